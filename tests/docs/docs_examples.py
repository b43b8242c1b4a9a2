#!/usr/bin/env python3
"""The commands the documentation shows, checked against the program.

The marking convention (docs/testing.md says it for writers):

- A fenced block marked ```console is a transcript that runs.  A line that
  starts with "$ " is a command (run as root: "# " would clash with the
  comments nft and iptables print); the lines after it, up to
  the next command, are what it prints, stdout and stderr together.  Every
  console block of one file runs in order, in one fresh network namespace,
  with a state directory of its own, from a root-owned copy of the source
  tree, with the built notrackctl first on the PATH.  A command must exit 0
  unless the next command is "echo $?", which then shows its exit status.
  In the expected output, {N} stands for a number (digits, "," and "."),
  {HEX} for hex digits, {DATE} for YYYY-MM-DD, {TIME} for HH:MM or
  HH:MM:SS, {ANY} for any text within the line, and a line "..." for any
  number of lines, none too.
- Every `notrackctl ...` command line shown (in any fenced block, the
  transcripts too, in inline code, or in a man page's .nf example) is checked: its
  command must be one --help lists, and each of its options one that the
  command's --help lists.

Usage:
  docs_examples.py options NOTRACKCTL SOURCE_DIR   check the shown commands
  docs_examples.py script FILE                     print FILE's transcripts
                                                   as a bash script
  docs_examples.py compare FILE OUTPUT             compare the script's
                                                   OUTPUT with FILE's text
"""
import pathlib
import re
import shlex
import subprocess
import sys

MARK = "\x1enotrackctl-docs"


def doc_files(root):
    files = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    return [f for f in files if f.exists()]


def fenced_blocks(text):
    """(info string, [lines], first line number) for each fenced block."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, info, body = i + 1, m.group(1), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        blocks.append((info, body, start + 1))
        i += 1
    return blocks


# ---------------------------------------------------------------- options


def help_options(text):
    """The options a --help text lists: {"--json", "-q", ...}."""
    opts = set()
    for line in text.split("\n"):
        m = re.match(r"^\s{2,}((?:-\w, )?--?[\w-]+)", line)
        if m:
            for o in m.group(1).split(", "):
                opts.add(o)
    return opts


def shown_commands(root):
    """(where, command line) for every notrackctl command shown anywhere."""
    out = []
    cmd = re.compile(r"(?:^|\$ |# |sudo |`)(notrackctl(?: [^`|;&>]*)?)")
    for f in doc_files(root):
        text = f.read_text()
        in_fence = False
        for n, line in enumerate(text.split("\n"), 1):
            if line.startswith("```"):
                in_fence = not in_fence
                continue
            if in_fence:
                m = re.match(r"^(?:\$ |# |sudo )?(?:\S*/)?(notrackctl .*)", line)
                if m:
                    out.append((f"{f.relative_to(root)}:{n}", m.group(1)))
            else:
                for m in re.finditer(r"`(notrackctl [^`]*)`", line):
                    out.append((f"{f.relative_to(root)}:{n}", m.group(1)))
    for f in sorted((root / "dist" / "man").glob("*.[58]")):
        nf = False
        for n, line in enumerate(f.read_text().split("\n"), 1):
            if line.startswith(".nf"):
                nf = True
            elif line.startswith(".fi"):
                nf = False
            elif nf:
                m = re.match(r"^#? ?(notrackctl .*)", line.replace("\\-", "-"))
                if m:
                    out.append((f"{f.relative_to(root)}:{n}", m.group(1)))
    return out


def check_options(binary, root):
    main_help = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]*)  ", main_help, re.M)
    global_opts = help_options(main_help)
    per_cmd = {}
    for c in commands:
        h = subprocess.run([binary, c, "--help"], capture_output=True, text=True).stdout
        per_cmd[c] = help_options(h)
    bad = []
    for where, line in shown_commands(root):
        line = re.split(r"\s(?:\||;|&&|>|2>|<)", line)[0]
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = line.split()
        words = words[1:]
        command, i = None, 0
        while i < len(words):
            w = words[i]
            if w.startswith("-"):
                if w.split("=")[0] not in global_opts:
                    bad.append(f"{where}: '{w}' is not a global option ({line})")
                if w in ("--table", "--state-dir", "--backend", "--lock-timeout"):
                    i += 1
                i += 1
                continue
            command = w
            break
        if command is None:
            continue
        if command not in per_cmd:
            # prose such as "notrackctl owns": only a word that looks like a
            # command the program might have is an error
            if re.fullmatch(r"[a-z-]+", command) and where.split(":")[0].endswith((".8", ".5")):
                bad.append(f"{where}: 'notrackctl {command}' is not a command")
            continue
        for w in words[i + 1 :]:
            if w == "--":
                break
            if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", w) and w.split("=")[0] not in per_cmd[command]:
                bad.append(f"{where}: notrackctl {command} has no option '{w}' ({line})")
    return commands, bad


def man_option_entries(man):
    """The OPTIONS section of notrackctl(8): ({global options}, [(options,
    commands)] for each entry of "Options of one command")."""
    text = man.replace("\\-", "-")
    m = re.search(r"^\.SH OPTIONS\n(.*?)^\.SH ", text, re.M | re.S)
    if not m:
        return None, None
    body = m.group(1)
    glob_part, _, cmd_part = body.partition(".SS Options of one command")
    opt = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")

    def entries(part):
        out, lines = [], part.split("\n")
        for k, line in enumerate(lines):
            if line == ".TP" and k + 1 < len(lines):
                para = lines[k + 2] if k + 2 < len(lines) else ""
                out.append((set(opt.findall(lines[k + 1])), para))
        return out

    glob = set()
    for opts, _ in entries(glob_part):
        glob |= opts
    per = []
    for opts, para in entries(cmd_part):
        head = para.split(":")[0]
        per.append((opts, set(re.findall(r"[a-z]+", head))))
    return glob, per


def check_man_options(binary, root, commands):
    """--help and the man page's OPTIONS list the same options, command by command."""
    main_help = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    global_opts = help_options(main_help)
    glob, per = man_option_entries((root / "dist" / "man" / "notrackctl.8").read_text())
    if glob is None:
        return ["notrackctl.8 has no OPTIONS section"]
    bad = [f"notrackctl.8 OPTIONS: '{o}' is not in notrackctl --help" for o in sorted(glob - global_opts)]
    bad += [f"notrackctl --help lists '{o}', which notrackctl.8 OPTIONS does not" for o in sorted(global_opts - glob)]
    for c in commands:
        h = subprocess.run([binary, c, "--help"], capture_output=True, text=True).stdout
        own = help_options(h) - global_opts
        documented = set()
        for opts, cmds in per:
            if c in cmds:
                documented |= opts
        for o in sorted(own - documented):
            bad.append(f"notrackctl {c} --help lists '{o}', which notrackctl.8 does not document for {c}")
        for o in sorted(documented - help_options(h)):
            bad.append(f"notrackctl.8 documents '{o}' for {c}, which notrackctl {c} --help does not list")
    for opts, cmds in per:
        if not cmds & set(commands):
            bad.append(f"notrackctl.8 documents {sorted(opts)} for no command ({sorted(cmds)})")
    return bad


# ---------------------------------------------------------------- transcripts


def transcripts(path):
    """[(line number, command, [expected lines])] over every console block."""
    steps = []
    for info, body, first in fenced_blocks(pathlib.Path(path).read_text()):
        if info != "console":
            continue
        for k, line in enumerate(body):
            if line.startswith("$ "):
                steps.append([first + k, line[2:], []])
            elif steps and steps[-1][0] >= first:
                steps[-1][2].append(line)
            else:
                raise SystemExit(f"{path}:{first + k}: console block text before its first '$ ' command")
    return steps


def script(path):
    out = ["set +e"]
    for n, (line, cmd, _) in enumerate(transcripts(path)):
        # the marker keeps $? for a following "echo $?"
        out.append(f'__rc=$?; printf "\\n{MARK} {n} {line}\\n"; (exit $__rc)')
        # the group: a redirection the command itself makes (>/dev/null) stays its own
        out.append(f"{{ {cmd}\n}} 2>&1")
        out.append(f'__rc=$?; printf "\\n{MARK}-rc {n} %s\\n" "$__rc"; (exit $__rc)')
    return "\n".join(out) + "\n"


def pattern(line):
    parts = re.split(r"(\{N\}|\{HEX\}|\{DATE\}|\{TIME\}|\{ANY\})", line.rstrip())
    subst = {
        "{N}": r"[0-9][0-9,.]*",
        "{HEX}": r"[0-9a-f]+",
        "{DATE}": r"\d{4}-\d\d-\d\d",
        "{TIME}": r"\d\d:\d\d(?::\d\d)?",
        "{ANY}": r".*",
    }
    return re.compile("".join(subst.get(p, re.escape(p)) for p in parts) + r"\Z")


def match(expected, actual):
    """True when the actual lines fit the expected ones ("..." any lines)."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(match(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and bool(pattern(expected[0]).match(actual[0].rstrip())) and match(expected[1:], actual[1:])


def compare(path, output):
    steps = transcripts(path)
    text = pathlib.Path(output).read_text()
    got, rcs, cur = {}, {}, None
    for line in text.split("\n"):
        m = re.match(re.escape(MARK) + r"(-rc)? (\d+) (\S+)$", line)
        if m and m.group(1):
            rcs[int(m.group(2))] = int(m.group(3))
            cur = None
        elif m:
            cur = int(m.group(2))
            got[cur] = []
        elif cur is not None:
            got[cur].append(line)
    bad = []
    for n, (line, cmd, expected) in enumerate(steps):
        if n not in rcs:
            bad.append(f"{path}:{line}: '{cmd}' did not run to its end")
            continue
        actual = got[n][1:] if got[n][:1] == [""] else got[n]
        while actual and actual[-1] == "":
            actual.pop()
        while expected and expected[-1] == "":
            expected = expected[:-1]
        shows_rc = n + 1 < len(steps) and steps[n + 1][1].strip() == "echo $?"
        if rcs[n] != 0 and not shows_rc:
            bad.append(f"{path}:{line}: '{cmd}' exited {rcs[n]}; show it with 'echo $?' or fix the text")
        if not match(expected, actual):
            bad.append(f"{path}:{line}: '{cmd}' printed\n" + "\n".join("    " + a for a in actual)
                       + "\n  where the text shows\n" + "\n".join("    " + e for e in expected))
    return bad


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "options":
        commands, bad = check_options(sys.argv[2], pathlib.Path(sys.argv[3]))
        bad += check_man_options(sys.argv[2], pathlib.Path(sys.argv[3]), commands)
    elif len(sys.argv) == 3 and sys.argv[1] == "script":
        sys.stdout.write(script(sys.argv[2]))
        return 0
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        bad = compare(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
