#include "diagnostics/prom.h"

#include <inttypes.h>
#include <stddef.h>

/* In HELP text only backslash and line feed are escaped; a label value also
 * escapes the double quote that would end it. */
static void put_escaped(struct strbuf *sb, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf_puts(sb, "\\\\");
		else if (*s == '\n')
			strbuf_puts(sb, "\\n");
		else if (*s == '"' && quote)
			strbuf_puts(sb, "\\\"");
		else
			strbuf_putc(sb, *s);
	}
}

void prom_family(struct strbuf *sb, const char *name, enum prom_type type, const char *help)
{
	strbuf_printf(sb, "# HELP %s ", name);
	put_escaped(sb, help, 0);
	strbuf_printf(sb, "\n# TYPE %s %s\n", name, type == PROM_COUNTER ? "counter" : "gauge");
}

void prom_sample(struct strbuf *sb, const char *name, const char *const *labels, uint64_t value)
{
	strbuf_puts(sb, name);
	if (labels && labels[0]) {
		strbuf_putc(sb, '{');
		for (size_t i = 0; labels[i]; i += 2) {
			strbuf_printf(sb, "%s%s=\"", i ? "," : "", labels[i]);
			put_escaped(sb, labels[i + 1] ? labels[i + 1] : "", 1);
			strbuf_putc(sb, '"');
		}
		strbuf_putc(sb, '}');
	}
	/* counters and gauges are float64 to Prometheus; integers print exactly
	 * up to 2^53, far beyond any packet count a rule reaches */
	strbuf_printf(sb, " %" PRIu64 "\n", value);
}

void prom_single(struct strbuf *sb, const char *name, enum prom_type type, const char *help, uint64_t value)
{
	prom_family(sb, name, type, help);
	prom_sample(sb, name, NULL, value);
}
