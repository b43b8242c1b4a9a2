#!/bin/sh
# Writes the two large valid policies deterministically (no randomness, no
# dependency beyond awk), so their goldens stay byte-identical:
#
#   valid/large-ports.json  one service with 10,000 port entries, listed in a
#                           scrambled order: 99 runs of 100 contiguous ports
#                           (which must collapse into 99 ranges) and 100
#                           isolated ports, 199 set elements in all.
#   valid/many-peers.json   40 IPv4 and 20 IPv6 peer prefixes.
#
# Run from anywhere: tests/cases/gen-large.sh
set -eu
cd "$(dirname "$0")/valid"

awk 'BEGIN {
	n = 0
	for (b = 0; b < 99; b++)
		for (i = 0; i < 100; i++)
			port[n++] = 10000 + b * 200 + i
	for (i = 0; i < 100; i++)
		port[n++] = 40000 + 2 * i
	# 7919 is prime and coprime with 10000: a fixed permutation of the list
	printf "{\n  \"version\": 1,\n  \"name\": \"large-ports\",\n  \"notrack\": {\n"
	printf "    \"services\": [\n      { \"proto\": \"tcp\", \"ports\": [\n"
	for (k = 0; k < n; k++) {
		if (k % 16 == 0)
			printf "        "
		printf "%d%s", port[(k * 7919) % n], k + 1 == n ? "\n" : (k % 16 == 15 ? ",\n" : ", ")
	}
	printf "      ] }\n    ]\n  },\n  \"untracked_accept\": \"none\"\n}\n"
}' >large-ports.json

awk 'BEGIN {
	printf "{\n  \"version\": 1,\n  \"name\": \"many-peers\",\n  \"notrack\": {\n    \"services\": [\n"
	printf "      { \"proto\": \"tcp\", \"ports\": [9100, 9101, 9102, 9200], \"comment\": \"metrics scrapers\",\n"
	printf "        \"peers\": [\n"
	for (i = 0; i < 40; i++)
		printf "          \"10.%d.%d.0/24\",\n", int(i / 8), (i % 8) * 32
	for (i = 0; i < 20; i++)
		printf "          \"2001:db8:%x::/48\"%s\n", 256 + i, i == 19 ? "" : ","
	printf "        ] }\n    ],\n    \"upstreams\": [\n"
	printf "      { \"proto\": \"tcp\", \"ports\": [2379],\n"
	printf "        \"peers\": [\"2001:db8:100::/48\", \"2001:db8:101::/48\", \"10.0.0.0/24\", \"10.0.32.0/24\"] }\n"
	printf "    ]\n  }\n}\n"
}' >many-peers.json
