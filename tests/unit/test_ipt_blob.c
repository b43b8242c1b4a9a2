/*
 * The legacy table reader's blob, without a kernel: the chain order libiptc
 * lists (which the iptables backend's digest follows), and the compaction
 * lint does before it walks (entries moved down in place, matches left out,
 * labels and chain names kept pointing at the right bytes).
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_comment.h>
#include <stdlib.h>
#include <string.h>

#include "backend/iptables/ipt_blob.h"
#include "emit/ipt_build.h"
#include "testlib.h"

static void order_is(const struct ipt_blob *b, const char *const *want)
{
	size_t *order;

	assert_int_equal(ipt_blob_chain_order(b, &order), 0);
	for (size_t i = 0; i < b->n_chains; i++)
		assert_string_equal(b->chains[order[i]].name, want[i]);
	free(order);
}

/* libiptc's parser appends a built-in chain, and a user chain that comes
 * after a built-in one or after a smaller name; any other goes before the
 * first user chain whose name is not smaller. */
static void chain_order_as_libiptc(void **state)
{
	struct ipt_blob_chain sorted[] = {{.name = "INPUT", .builtin = true},
					  {.name = "FORWARD", .builtin = true},
					  {.name = "OUTPUT", .builtin = true},
					  {.name = "DOCKER"},
					  {.name = "DOCKER-USER"},
					  {.name = "f2b-sshd"}};
	struct ipt_blob_chain unsorted[] = {
	    {.name = "INPUT", .builtin = true},	 {.name = "b"}, {.name = "d"}, {.name = "a"}, {.name = "c"},
	    {.name = "OUTPUT", .builtin = true}, {.name = "0"}, {.name = "e"}, {.name = "1"}};
	struct ipt_blob b = {.chains = sorted, .n_chains = 6};

	(void)state;
	order_is(&b, (const char *const[]){"INPUT", "FORWARD", "OUTPUT", "DOCKER", "DOCKER-USER", "f2b-sshd"});
	b = (struct ipt_blob){.chains = unsorted, .n_chains = 9};
	/* "0" follows a built-in chain: appended; "1" is smaller than "e", so
	 * it goes before the first user chain not smaller than it: "a" */
	order_is(&b, (const char *const[]){"INPUT", "1", "a", "b", "c", "d", "OUTPUT", "0", "e"});
}

/* Appends an entry of `size` bytes to buf at *at. */
static const unsigned char *put(unsigned char *buf, size_t *at, const void *e, size_t size)
{
	memcpy(buf + *at, e, size);
	*at += size;
	return buf + *at - size;
}

static const struct xt_entry_target *target_of(const void *e)
{
	return (const void *)((const unsigned char *)e + ((const struct ipt_entry *)e)->target_offset);
}

/* Leaves out every comment but "tag", as lint does with its own tag. */
static bool drop_comments(unsigned family, const void *e, const void *match, void *ctx)
{
	const struct xt_entry_match *m = match;

	(void)family;
	(void)e;
	return !strcmp(m->u.user.name, "comment") &&
	       strcmp(((const struct xt_comment_info *)m->data)->comment, (const char *)ctx);
}

static void compact_keeps_what_readers_read(void **state)
{
	/* a user chain's head: an ERROR entry named after the chain */
	struct {
		struct ipt_entry e;
		struct xt_error_target t;
	} head = {.e = {.target_offset = sizeof(struct ipt_entry), .next_offset = sizeof(head)},
		  .t = {.target = {.u.user = {.target_size = sizeof(struct xt_error_target), .name = "ERROR"}},
			.errorname = "KUBE-SVC-1"}};
	void *other = ipt_build_accept(FAMILY_IPV4, "someone-else");
	void *ours = ipt_build_accept(FAMILY_IPV4, "tag");
	void *jump = ipt_build_jump(FAMILY_IPV4, "tag", "KUBE-SVC-1");
	size_t so = ipt_entry_size(FAMILY_IPV4, other), su = ipt_entry_size(FAMILY_IPV4, ours),
	       sj = ipt_entry_size(FAMILY_IPV4, jump), at = 0;
	uint64_t key_ours = ipt_entry_key(FAMILY_IPV4, ours, NULL), key_jump = ipt_entry_key(FAMILY_IPV4, jump, NULL);
	unsigned char *buf = malloc(sizeof(head) + so + su + sj);
	struct ipt_blob b = {.family = FAMILY_IPV4, .buf = buf, .n_chains = 1, .n_rules = 3};
	const unsigned char *h, *e0, *e1, *e2;

	(void)state;
	assert_non_null(buf);
	h = put(buf, &at, &head, sizeof(head));
	e0 = put(buf, &at, other, so);
	e1 = put(buf, &at, ours, su);
	e2 = put(buf, &at, jump, sj);
	b.chains = calloc(1, sizeof(*b.chains));
	b.rules = calloc(3, sizeof(*b.rules));
	assert_non_null(b.chains);
	assert_non_null(b.rules);
	b.chains[0] =
	    (struct ipt_blob_chain){.name = ((const struct xt_error_target *)target_of(h))->errorname, .n = 3};
	/* labels as ipt_blob_read() makes them: an extension's own name, a chain's */
	b.rules[0] = (struct ipt_blob_rule){.e = e0, .label = target_of(e0)->u.user.name, .jump = -1};
	b.rules[1] = (struct ipt_blob_rule){.e = e1, .label = target_of(e1)->u.user.name, .jump = -1};
	b.rules[2] = (struct ipt_blob_rule){.e = e2, .label = b.chains[0].name, .jump = 0};

	assert_int_equal(ipt_blob_compact(&b, drop_comments, "tag"), 0);
	/* the chain's name outlived its head entry */
	assert_string_equal(b.chains[0].name, "KUBE-SVC-1");
	/* the rules sit one after the other from the start, the head gone */
	assert_ptr_equal(b.rules[0].e, b.buf);
	assert_ptr_equal(b.rules[1].e, (const unsigned char *)b.rules[0].e + ipt_entry_size(FAMILY_IPV4, b.rules[0].e));
	assert_ptr_equal(b.rules[2].e, (const unsigned char *)b.rules[1].e + su);
	/* someone else's comment went, the rest of that rule stayed */
	assert_int_equal(ipt_entry_size(FAMILY_IPV4, b.rules[0].e),
			 so - XT_ALIGN(sizeof(struct xt_entry_match) + sizeof(struct xt_comment_info)));
	assert_null(ipt_entry_comment(FAMILY_IPV4, b.rules[0].e));
	assert_ptr_equal(b.rules[0].label, target_of(b.rules[0].e)->u.user.name);
	assert_string_equal(b.rules[0].label, ipt_entry_target_name(FAMILY_IPV4, other));
	/* ours kept every byte, so the same key; the jump still names its chain */
	assert_int_equal(ipt_entry_size(FAMILY_IPV4, b.rules[1].e), su);
	assert_string_equal(ipt_entry_comment(FAMILY_IPV4, b.rules[1].e), "tag");
	assert_true(ipt_entry_key(FAMILY_IPV4, b.rules[1].e, NULL) == key_ours);
	assert_ptr_equal(b.rules[1].label, target_of(b.rules[1].e)->u.user.name);
	assert_true(ipt_entry_key(FAMILY_IPV4, b.rules[2].e, NULL) == key_jump);
	assert_ptr_equal(b.rules[2].label, b.chains[0].name);

	/* a reader that only asks which chains there are */
	assert_int_equal(ipt_blob_keep_chains(&b), 0);
	assert_int_equal(b.n_rules, 0);
	assert_non_null(ipt_blob_find_chain(&b, "KUBE-SVC-1"));
	assert_null(ipt_blob_find_chain(&b, "KUBE-SVC-2"));
	ipt_blob_free(&b);
	free(other);
	free(ours);
	free(jump);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(chain_order_as_libiptc),
	    cmocka_unit_test(compact_keeps_what_readers_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
