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

static const char *type_name(enum prom_type type)
{
	return type == PROM_COUNTER ? "counter" : "gauge";
}

void prom_family(struct prom_out *o, const char *name, enum prom_type type, const char *help)
{
	struct strbuf *sb = o->text;

	if (o->families) {
		json_array_append_new(o->families, json_pack("{s:s,s:s,s:s,s:[]}", "name", name, "type",
							     type_name(type), "help", help, "samples"));
		return;
	}
	strbuf_printf(sb, "# HELP %s ", name);
	put_escaped(sb, help, 0);
	strbuf_printf(sb, "\n# TYPE %s %s\n", name, type_name(type));
}

/* The sample into the last family announced (prom_family comes first). */
static void json_sample(json_t *families, const char *const *labels, uint64_t value)
{
	json_t *family = json_array_get(families, json_array_size(families) - 1);
	json_t *l = json_object();

	for (size_t i = 0; labels && labels[i]; i += 2)
		json_object_set_new(l, labels[i], json_string(labels[i + 1] ? labels[i + 1] : ""));
	/* as a JSON integer: exact up to 2^63, where the text's float64 is
	 * exact up to 2^53 */
	json_array_append_new(json_object_get(family, "samples"),
			      json_pack("{s:o,s:I}", "labels", l, "value", (json_int_t)value));
}

void prom_sample(struct prom_out *o, const char *name, const char *const *labels, uint64_t value)
{
	struct strbuf *sb = o->text;

	if (o->families) {
		json_sample(o->families, labels, value);
		return;
	}
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

void prom_single(struct prom_out *o, const char *name, enum prom_type type, const char *help, uint64_t value)
{
	prom_family(o, name, type, help);
	prom_sample(o, name, NULL, value);
}
