/* SPDX-License-Identifier: MIT */
/*
 * PNG plots through gnuplot: a data file and a script are written next to
 * the image (so the plot can be redone or restyled by hand), then gnuplot
 * runs in DIR. pngcairo when gnuplot has it, else the libgd png terminal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmmu/error.h"
#include "bench.h"

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0777) == 0 || errno == EEXIST)
		return VMMU_OK;
	fprintf(stderr, "vmmu bench: cannot create %s: %s\n", dir, strerror(errno));
	return VMMU_EIO;
}

int bench_plot_dir_ok(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (!dir || !*dir) {
		snprintf(err, errlen, "--plot needs a directory");
		return VMMU_EINVAL;
	}
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return VMMU_EIO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return VMMU_EINVAL;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "cannot write in %s: %s", dir,
			 strerror(errno));
		return VMMU_EIO;
	}
	return VMMU_OK;
}

static FILE *open_in(const char *dir, const char *name, const char *ext)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "vmmu bench: cannot write %s: %s\n", path,
			strerror(errno));
	return f;
}

static void script_head(FILE *g, const char *name, const char *title)
{
	fprintf(g,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"  set terminal pngcairo size 1200,750 font 'Sans,11'\n"
		"} else {\n"
		"  set terminal png size 1200,750\n"
		"}\n"
		"set output '%s.png'\n"
		"set title '%s' noenhanced\n"
		"set grid\n", name, title);
}

/* DIR/NAME.dat and DIR/NAME.gp opened, the script's head written. */
static int open_plot(const char *dir, const char *name, const char *title,
		     FILE **d, FILE **g)
{
	if (make_dir(dir) || !(*d = open_in(dir, name, "dat")))
		return VMMU_EIO;
	if (!(*g = open_in(dir, name, "gp"))) {
		fclose(*d);
		return VMMU_EIO;
	}
	script_head(*g, name, title);
	return VMMU_OK;
}

/* Run gnuplot NAME.gp inside dir; 0 when it exits 0. */
static int run_gnuplot(const char *dir, const char *name,
		       const struct bench_progress *p)
{
	char script[512];
	pid_t pid;
	int status;

	snprintf(script, sizeof(script), "%s.gp", name);
	pid = fork();
	if (pid < 0)
		return VMMU_EIO;
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "vmmu bench: gnuplot failed on %s/%s "
			"(status %d; is gnuplot installed?)\n", dir, script,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return VMMU_EIO;
	}
	bench_progress(p, "plot written: %s/%s.png", dir, name);
	return VMMU_OK;
}

static void write_curve_data(FILE *d, const struct bench_tlb_curve *cv,
			     const char *label)
{
	unsigned i;
	int k;

	fprintf(d, "# %s: ws_bytes, then median q1 q3 ns for 4k 2m dense\n",
		label);
	for (i = 0; i < cv->n; i++) {
		fprintf(d, "%llu", (unsigned long long)cv->pt[i].ws);
		for (k = 0; k < BENCH_CHASE_KINDS; k++) {
			const struct bench_stats *s = &cv->pt[i].ns[k];

			if (cv->pt[i].have[k])
				fprintf(d, " %.4f %.4f %.4f", s->median, s->q1, s->q3);
			else
				fprintf(d, " NaN NaN NaN");
		}
		fputc('\n', d);
	}
	fputs("\n\n", d);
}

/* x tics every 4x from the first working set, labelled as sizes. */
static void write_size_tics(FILE *g, const struct bench_tlb_curve *cv)
{
	uint64_t w, last = cv->n ? cv->pt[cv->n - 1].ws : 0;
	char label[32];

	fprintf(g, "set xtics nomirror (");
	for (w = cv->n ? cv->pt[0].ws : 1; w && w <= last; w *= 4) {
		bench_fmt_size(w, label, sizeof(label));
		fprintf(g, "%s'%s' %llu", w == cv->pt[0].ws ? "" : ", ", label,
			(unsigned long long)w);
	}
	fprintf(g, ")\n");
}

int bench_plot_curves(const char *dir, const char *name, const char *title,
		      const struct bench_tlb_curve *const *cv,
		      const char *const *labels, unsigned n,
		      const struct bench_progress *p)
{
	static const char *const kind_title[] = { "4 KiB pages", "2 MiB pages",
						  "dense (cache only)" };
	FILE *d, *g;
	unsigned i;
	int k;

	if (open_plot(dir, name, title, &d, &g))
		return VMMU_EIO;
	for (i = 0; i < n; i++)
		write_curve_data(d, cv[i], labels[i]);
	fclose(d);
	fprintf(g, "set logscale x 2\nset logscale y\n"
		"set xlabel 'working set (one access per 4 KiB page)'\n"
		"set ylabel 'ns per access (median; bars: quartiles)'\n"
		"set offsets graph 0.02, graph 0.02, 0, 0\n"
		"set key left top\n");
	write_size_tics(g, cv[0]);
	fprintf(g, "plot ");
	for (i = 0; i < n; i++)
		for (k = 0; k < BENCH_CHASE_KINDS; k++)
			fprintf(g, "%s'%s.dat' index %u using 1:%d:%d:%d with "
				"yerrorlines lw 2 dt %u title '%s, %s' noenhanced",
				i || k ? ", \\\n  " : "", name, i, 2 + 3 * k,
				3 + 3 * k, 4 + 3 * k, i + 1, labels[i],
				kind_title[k]);
	fputc('\n', g);
	fclose(g);
	return run_gnuplot(dir, name, p);
}

int bench_plot_tlb(const char *dir, const struct bench_tlb_result *r,
		   const struct bench_progress *p)
{
	const struct bench_tlb_curve *cv[BENCH_MAX_KINDS];
	const char *labels[BENCH_MAX_KINDS];
	char names[BENCH_MAX_KINDS][64];
	unsigned i;

	for (i = 0; i < r->n_kinds; i++) {
		snprintf(names[i], sizeof(names[i]), "native PU %d%s%s",
			 r->kinds[i].pu, r->kinds[i].kind_name[0] ? " " : "",
			 r->kinds[i].kind_name);
		cv[i] = &r->kinds[i].curve;
		labels[i] = names[i];
	}
	return bench_plot_curves(dir, "tlb_native",
				 "Pointer-chase latency, native", cv, labels,
				 r->n_kinds, p);
}

int bench_plot_bars(const char *dir, const char *name, const char *title,
		    const char *const *labels, const struct bench_stats *s,
		    unsigned n, const char *ylabel,
		    const struct bench_progress *p)
{
	FILE *d, *g;
	unsigned i;

	if (open_plot(dir, name, title, &d, &g))
		return VMMU_EIO;
	fprintf(d, "# label median min max\n");
	for (i = 0; i < n; i++)
		fprintf(d, "\"%s\" %.3f %.3f %.3f\n", labels[i], s[i].median,
			s[i].min, s[i].max);
	fclose(d);
	fprintf(g, "set logscale y\nset style fill solid 0.5\n"
		"set boxwidth 0.6\nset xtics rotate by -30 noenhanced\n"
		"set ylabel '%s'\nset yrange [1:*]\nunset key\n"
		"plot '%s.dat' using 0:2:xtic(1) with boxes, \\\n"
		"  '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt 0, \\\n"
		"  '' using 0:(1.15*$4):(sprintf('%%.0f', $2)) with labels\n",
		ylabel, name);
	fclose(g);
	return run_gnuplot(dir, name, p);
}
