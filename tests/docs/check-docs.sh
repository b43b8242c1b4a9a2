#!/bin/bash
# The documentation keeps up with the program:
#  - every command `notrackctl --help` lists has a working `--help`, a
#    section in the man page and a mention in README.md;
#  - every `notrackctl COMMAND` shown in README.md exists;
#  - every exit code in src/cli/exit_codes.h is in --help, the man page and
#    README.md;
#  - the sources are clang-formatted;
#  - every notrackctl command line shown in README.md, docs/ and the man
#    pages names a command and options that its --help lists, and --help
#    and notrackctl(8)'s OPTIONS list the same options, command by command
#    (docs_examples.py options; check-examples.sh runs the transcripts).
#
# Usage: check-docs.sh NOTRACKCTL SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/../lib/netns.sh"
[ $# = 2 ] || { echo "usage: $0 NOTRACKCTL SOURCE_DIR" >&2; exit 2; }
bin=$1
src=$2
work=$(mktemp -d)
defer rm -rf "$work"

"$bin" --help >"$work/help"
commands=$(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$work/help")
[ "$(echo "$commands" | wc -w)" -ge 8 ] || fail "--help lists too few commands: $commands"
need_commands man col
man -l "$src/dist/man/notrackctl.8" 2>"$work/man.err" >"$work/man.raw" || fail "man -l notrackctl.8: $(cat "$work/man.err")"
col -b <"$work/man.raw" >"$work/man"
for c in $commands; do
	"$bin" "$c" --help >"$work/c.help" || fail "notrackctl $c --help fails"
	grep -q "^Usage: notrackctl $c" "$work/c.help" || fail "notrackctl $c --help has no usage line"
	grep -qE "^ +$c( |$)" "$work/man" || fail "the man page does not document '$c'"
	grep -qE "notrackctl $c|\`$c\`" "$src/README.md" || fail "README.md does not mention '$c'"
done

# Commands the README shows must exist.
# (in code: "$ notrackctl X", "`notrackctl X", "sudo notrackctl X", or a line of its own)
grep -oE '(^\$ |^|`|sudo )notrackctl [a-z][a-z-]+' "$src/README.md" | sed 's/.*notrackctl //' | sort -u >"$work/readme-commands"
while read -r c; do
	grep -qx "$c" <<<"$commands" || fail "README.md shows 'notrackctl $c', which --help does not list"
done <"$work/readme-commands"

# Shown command lines and the man page's options, mechanically.
python3 "$(dirname "$0")/docs_examples.py" options "$bin" "$src" >"$work/options" ||
	fail "the documented commands or options disagree with --help:
$(cat "$work/options")"

# Exit codes.
sed -n 's/^\s*EXIT_[A-Z_]* = \([0-9]*\),.*/\1/p' "$src/src/cli/exit_codes.h" >"$work/codes"
[ "$(wc -l <"$work/codes")" -ge 10 ] || fail "cannot read the exit codes"
while read -r code; do
	grep -qE "^  $code +[a-z]" "$work/help" || fail "--help does not list exit code $code"
	grep -qE "^\| $code \|" "$src/README.md" || fail "README.md does not list exit code $code"
	grep -qx "\.B $code" "$src/dist/man/notrackctl.8" || fail "the man page does not list exit code $code"
done <"$work/codes"

# No pipeline whose reader quits early: under `set -o pipefail`, `PRODUCER |
# grep -q` (or head, grep -m, awk '... exit', sed '...q') kills a producer
# that is still writing with SIGPIPE, and the pipeline fails (141) by chance.
# Write to a file, then read it.  Allowed: the reader's pipeline is inside a
# fail message, or its producer only writes what it already holds (echo,
# printf, cat).
python3 - "$src" >"$work/pipes" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
files = [p for p in root.glob("tests/**/*.sh") if p.name != "check-docs.sh"] + [p for p in root.glob("tests/*/run")]
files += [p for p in (root / "scripts").iterdir() if p.is_file()] + [root / ".ci" / "run"]
reader = re.compile(r"(?<!\|)\|(?!\|)\s*(grep\s+(-\w*[qm]|--quiet|--max-count)|head\b|sed\s+(-n\s+)?'?[^|']*q'?\s|awk\s.*\bexit\b)")
for path in sorted(files):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split(" #")[0] if not line.lstrip().startswith("#") else ""
        for m in reader.finditer(code):
            before = code[: m.start()]
            if 'fail "' in before:
                continue
            producer = re.split(r"\|\||&&|[|;(]|\$\(", before)[-1].lstrip("(){} \t")
            if re.match(r"(echo|printf|cat)\b", producer):
                continue
            print(f"{path.relative_to(root)}:{n}: {line.strip()}")
            break
PY
[ ! -s "$work/pipes" ] || fail "a pipeline into a reader that quits early (SIGPIPE under pipefail): write to a file, then read it:
$(cat "$work/pipes")"

# Style.
need_commands clang-format
(cd "$src" && clang-format --dry-run --Werror $(find src -name "*.[ch]") tests/unit/*.c tests/lib/*.c tests/lib/*.h) ||
	fail "clang-format would change the sources: run clang-format -i"
echo "PASS"
