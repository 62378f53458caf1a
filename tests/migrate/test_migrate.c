/* SPDX-License-Identifier: MIT */
/*
 * Live migration over TCP on 127.0.0.1 (the receiver on a thread):
 * randomized small migrations with concurrent writers must arrive with
 * every page equal (hash per page, checked by the source against its
 * paused memory); injected faults (a byte flipped, a record truncated, a
 * receiver gone at a random byte) are detected, the source keeps running
 * with its memory untouched and its dirty log off as before, and a later
 * migration of the same VM succeeds. The same randomized migrations run
 * on the EPT, NPT and shadow backends (their own log-dirty mechanisms
 * report into the VM's one log).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "migrate/migrate.h"
#include "vmmu/backend.h"
#include "vmmu/dirty.h"

struct peer {
	int lfd;
	int64_t die_at;         /* >= 0: a receiver that dies at this byte */
	struct mig_recv_report rr;
	int rc;
};

static void *receiver(void *p)
{
	struct peer *pe = p;
	int fd = accept(pe->lfd, NULL, NULL);

	if (fd < 0) {
		pe->rc = -1;
		return NULL;
	}
	if (pe->die_at >= 0) {
		/* Reads die_at bytes, then goes away with a reset. */
		struct linger lg = { 1, 0 };
		char buf[4096];
		int64_t got = 0;
		ssize_t k;

		while (got < pe->die_at &&
		       (k = recv(fd, buf, (size_t)(pe->die_at - got < 4096 ?
						   pe->die_at - got : 4096), 0)) > 0)
			got += k;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		pe->rc = -1;
		return NULL;
	}
	pe->rc = mig_receive(fd, &pe->rr);
	close(fd);
	return NULL;
}

/* One migration of m to a receiver thread. */
static int migrate_once(struct model *m, const struct mig_opts *o,
			int64_t die_at, struct mig_report *r,
			struct mig_recv_report *rr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct peer pe = { .die_at = die_at };
	pthread_t th;
	int fd, rc;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pe.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(pe.lfd >= 0);
	assert_int_equal(bind(pe.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(pe.lfd, 1), 0);
	assert_int_equal(getsockname(pe.lfd, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(pthread_create(&th, NULL, receiver, &pe), 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	rc = mig_send(m, fd, o, r);
	close(fd);
	pthread_join(th, NULL);
	close(pe.lfd);
	if (rr)
		*rr = pe.rr;
	return rc;
}

static struct mig_opts no_faults(void)
{
	struct mig_opts o = { .io_timeout = 10 };

	o.fault.flip_at = o.fault.truncate_at = o.fault.kill_at = -1;
	return o;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_random_migrations(void **state)
{
	uint64_t s = 20261201;
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++) {
		struct model_cfg cfg = {
			.mem = (4 + (rnd(&s) % 4) * 4) << 20,
			.vcpus = 1 + (unsigned)(rnd(&s) % 4),
			.workload = (enum model_workload)(rnd(&s) % 3),
			.seed = i, .eager = i & 1,
		};
		struct mig_opts o = no_faults();
		struct mig_report r;
		struct mig_recv_report rr;
		struct model m;

		if (i == 2)
			o.bandwidth = 100;      /* MB/s: throttled */
		if (i == 4)
			cfg.rate = 200;         /* stores/s/vCPU: a small WWS */
		assert_int_equal(model_create(&m, &cfg), 0);
		assert_int_equal(model_start(&m), 0);
		if (migrate_once(&m, &o, -1, &r, &rr) < 0)
			print_error("migration %u: %s / %s\n", i, r.why, rr.why);
		assert_true(r.ok);
		assert_true(rr.ok);
		assert_int_equal(r.first_bad_gfn, -1);
		assert_true(r.nrounds >= 2);
		assert_non_null(r.stop_reason);
		assert_true(r.guest_stores > 0);
		print_message("migration %u: %u vCPUs, %llu MiB, %s: %u rounds "
			      "(%s), %llu pages, downtime %.1f ms, %llu stores\n",
			      i, cfg.vcpus, (unsigned long long)(cfg.mem >> 20),
			      model_workload_name(cfg.workload), r.nrounds,
			      r.stop_reason, (unsigned long long)r.total_pages,
			      r.downtime_ms, (unsigned long long)r.guest_stores);
		if (i == 4)
			assert_string_equal(r.stop_reason,
					    "fewer than 50 dirty pages");
		if (i == 2)     /* 100 MB/s: at least mem / 100e6 seconds */
			assert_true(r.total_seconds >= (double)cfg.mem / 100e6);
		assert_int_equal(vmmu_dirty_range(m.vm, NULL, NULL), VMMU_ENOENT);
		model_destroy(&m);
	}
}

/*
 * One randomized migration per backend and dirty-tracking variant,
 * concurrent writers, no page lost; the variant asked for is in effect.
 */
static void test_backend_migrations(void **state)
{
	uint64_t s = 20261203;
	unsigned b;

	(void)state;
	/* every pair but direct wp (test_random_migrations has it) */
	for (b = 1; b < MODEL_VARIANTS; b++) {
		const struct model_variant *v = &model_variants[b];
		struct model_cfg cfg = {
			.mem = (4 + (rnd(&s) % 2) * 4) << 20,
			.vcpus = 1 + (unsigned)(rnd(&s) % 3),
			.workload = (enum model_workload)(rnd(&s) % 3),
			.seed = 100 + b,
		};
		struct mig_opts o = no_faults();
		struct mig_report r;
		struct mig_recv_report rr;
		struct vmmu_npt_config npt;
		struct model m;

		model_cfg_variant(&cfg, v, &npt);
		assert_int_equal(model_create(&m, &cfg), 0);
		assert_int_equal(vmmu_dirty_mode(m.vm), v->dirty);
		assert_int_equal(model_start(&m), 0);
		if (migrate_once(&m, &o, -1, &r, &rr) < 0)
			print_error("%s: %s / %s\n", v->name, r.why, rr.why);
		print_message("%s: %u vCPUs, %llu MiB, %s: %u rounds (%s), "
			      "%llu pages, %llu stores, %llu bad pages\n",
			      v->name, cfg.vcpus,
			      (unsigned long long)(cfg.mem >> 20),
			      model_workload_name(cfg.workload), r.nrounds,
			      r.stop_reason ? r.stop_reason : "-",
			      (unsigned long long)r.total_pages,
			      (unsigned long long)r.guest_stores,
			      (unsigned long long)r.bad_pages);
		assert_true(r.ok);
		assert_true(rr.ok);
		assert_int_equal(r.first_bad_gfn, -1);
		assert_true(r.nrounds >= 2);
		assert_true(r.guest_stores > 0);
		assert_int_equal(vmmu_dirty_range(m.vm, NULL, NULL), VMMU_ENOENT);
		model_destroy(&m);
	}
}

/* A variant the backend lacks is refused at creation, clearly. */
static void test_variant_refused(void **state)
{
	struct model_cfg cfg = { .mem = 4 << 20, .vcpus = 1,
				 .workload = MODEL_WL_IDLE, .kind =
				 VMMU_BACKEND_SHADOW, .ops = &vmmu_backend_shadow,
				 .dirty_fixed = true, .dirty = VMMU_DIRTY_PML };
	struct model m;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), VMMU_ENOTSUP);
	assert_non_null(strstr(m.why, "does not offer"));
}

static uint64_t mem_hash(struct model *m)
{
	uint8_t page[4096];
	uint64_t g, h = 0;

	for (g = 0; g < m->cfg.mem >> 12; g++) {
		vmmu_vm_read_gpa(m->vm, mk_gpa(g << 12), page, 4096);
		h = h * 31 + mig_page_hash(page);
	}
	return h;
}

static void test_faults(void **state)
{
	struct model_cfg cfg = { .mem = 8 << 20, .vcpus = 2, .seed = 5,
				 .workload = MODEL_WL_HOT };
	struct model m;
	struct mig_report r;
	uint64_t s = 77, stores, before;
	unsigned kind, rep;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), 0);
	assert_int_equal(model_start(&m), 0);
	for (rep = 0; rep < 2; rep++) {
		for (kind = 0; kind < 3; kind++) {
			struct mig_opts o = no_faults();
			int64_t at = (int64_t)(rnd(&s) % cfg.mem), die = -1;
			static const char *const names[] = {
				"flipped byte", "truncated record", "receiver died" };

			if (kind == 0)
				o.fault.flip_at = at;
			else if (kind == 1)
				o.fault.truncate_at = at;
			else
				die = at;
			assert_int_not_equal(migrate_once(&m, &o, die, &r, NULL), 0);
			assert_false(r.ok);
			assert_true(r.why[0] != 0);
			print_message("%s at byte %lld: %s\n", names[kind],
				      (long long)at, r.why);
			/* The source runs on, log off as before. */
			assert_int_equal(vmmu_dirty_range(m.vm, NULL, NULL),
					 VMMU_ENOENT);
			assert_int_equal(atomic_load(&m.error), 0);
			stores = atomic_load(&m.stores);
			while (atomic_load(&m.stores) == stores)
				usleep(100);
		}
	}
	/* Memory untouched by a failed migration (writers stopped). */
	model_stop(&m);
	before = mem_hash(&m);
	{
		struct mig_opts o = no_faults();

		o.fault.flip_at = 100000;
		assert_int_not_equal(migrate_once(&m, &o, -1, &r, NULL), 0);
	}
	assert_int_equal(mem_hash(&m), before);
	assert_int_equal(model_start(&m), 0);
	/* A later migration of the same VM succeeds. */
	{
		struct mig_opts o = no_faults();

		assert_int_equal(migrate_once(&m, &o, -1, &r, NULL), 0);
		assert_true(r.ok);
		assert_int_equal(r.first_bad_gfn, -1);
	}
	model_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_migrations),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_backend_migrations),
		cmocka_unit_test(test_variant_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
