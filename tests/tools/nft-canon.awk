# `nft list ruleset` text with each table's sets and maps in name order (see
# nft-canon.py for why); the text form, in awk because tests call it on every
# trial.  A block is "\tset NAME {" up to "\t}", with the blank line after it.
function flush(   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && name[j - 1] > name[j]; j--) {
			t = name[j]; name[j] = name[j - 1]; name[j - 1] = t
			t = body[j]; body[j] = body[j - 1]; body[j - 1] = t
		}
	for (i = 1; i <= n; i++)
		printf "%s", body[i]
	n = 0
}
inblock {
	body[n] = body[n] $0 "\n"
	if ($0 == "\t}") { inblock = 0; after = 1 }
	next
}
after && $0 == "" { body[n] = body[n] "\n"; after = 0; next }
{ after = 0 }
/^\t(set|map) [^ ]+ \{$/ {
	n++
	name[n] = $2
	body[n] = $0 "\n"
	inblock = 1
	next
}
{ if (n) flush(); print }
END { if (n) flush() }
