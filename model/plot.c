/* SPDX-License-Identifier: MIT */
/*
 * `vmmu run --plot DIR`: PNG plots through gnuplot of the estimated time
 * per backend per workload and of its breakdown by event class, each with
 * its .dat and .gp. DIR/vmmu-run.manifest lists what vmmu wrote there, so
 * a later run replaces its own files and never anyone else's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "vmmu/error.h"

#define MANIFEST "vmmu-run.manifest"
#define MANIFEST_HEAD "# vmmu run --plot: files written by vmmu\n"

static const char *const outputs[] = {
	"run_time.dat", "run_time.gp", "run_time.png",
	"run_breakdown.dat", "run_breakdown.gp", "run_breakdown.png", NULL,
};

static int err_out(char *err, size_t len, const char *dir, const char *why)
{
	snprintf(err, len, "--plot %s: %s", dir, why);
	return VMMU_EINVAL;
}

/* Whether DIR's manifest (if any) names file. */
static bool ours(const char *dir, const char *file)
{
	char path[4096], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f) || strcmp(line, MANIFEST_HEAD)) {
		fclose(f);
		return false;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		found = !strcmp(line, file);
	}
	fclose(f);
	return found;
}

int report_plot_check(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	struct stat st;
	unsigned i;

	if (!*dir || strchr(dir, '\''))
		return err_out(err, errlen, dir, "empty, or a name with a quote");
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || mkdir(dir, 0777) < 0)
			return err_out(err, errlen, dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		return err_out(err, errlen, dir, "not a directory");
	}
	if (access(dir, W_OK | X_OK) < 0)
		return err_out(err, errlen, dir, "not writable");
	snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST);
	if (stat(path, &st) == 0 && !ours(dir, outputs[0]))
		return err_out(err, errlen, dir, MANIFEST " exists and is not "
			       "vmmu's: nothing overwritten");
	for (i = 0; outputs[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, outputs[i]);
		if (lstat(path, &st) == 0 && (!S_ISREG(st.st_mode) ||
					      !ours(dir, outputs[i]))) {
			snprintf(err, errlen, "--plot %s: %s exists and was not "
				 "written by vmmu run: nothing overwritten", dir,
				 outputs[i]);
			return VMMU_EINVAL;
		}
	}
	if (system("gnuplot --version >/dev/null 2>&1") != 0)
		return err_out(err, errlen, dir, "gnuplot is not installed "
			       "(apt-get install gnuplot-nox)");
	return VMMU_OK;
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "w");
}

static int write_manifest(const char *dir)
{
	FILE *f = open_out(dir, MANIFEST);
	unsigned i;

	if (!f)
		return VMMU_EIO;
	fputs(MANIFEST_HEAD, f);
	for (i = 0; outputs[i]; i++)
		fprintf(f, "%s\n", outputs[i]);
	return fclose(f) ? VMMU_EIO : VMMU_OK;
}

static double est(const struct run_session *s, unsigned i, unsigned j,
		  double part[COST_EVENTS_])
{
	return cost_estimate(&s->cost, &s->res[i][j].n, s->bk[j]->kind, part);
}

static int time_dat(const char *dir, const struct run_session *s)
{
	FILE *f = open_out(dir, "run_time.dat");
	double part[COST_EVENTS_];
	unsigned i, j;

	if (!f)
		return VMMU_EIO;
	fprintf(f, "# vmmu run: estimated ms per workload (rows) and backend\n"
		"workload");
	for (j = 0; j < s->nbk; j++)
		fprintf(f, " %s", s->bk[j]->name);
	fputc('\n', f);
	for (i = 0; i < s->nwl; i++) {
		fprintf(f, "%s", s->wl[i]->name);
		for (j = 0; j < s->nbk; j++)
			fprintf(f, " %.6f", s->res[i][j].error[0] ? 0 :
				est(s, i, j, part) / 1e6);
		fputc('\n', f);
	}
	return fclose(f) ? VMMU_EIO : VMMU_OK;
}

static int breakdown_dat(const char *dir, const struct run_session *s)
{
	FILE *f = open_out(dir, "run_breakdown.dat");
	double part[COST_EVENTS_];
	unsigned i, j, e;

	if (!f)
		return VMMU_EIO;
	fprintf(f, "# vmmu run: estimated ms per event class\nrun");
	for (e = 0; e < COST_EVENTS_; e++)
		fprintf(f, " %s", cost_event_name(e));
	fputc('\n', f);
	for (i = 0; i < s->nwl; i++)
		for (j = 0; j < s->nbk; j++) {
			if (s->res[i][j].error[0])
				continue;
			est(s, i, j, part);
			fprintf(f, "%s/%s", s->wl[i]->name, s->bk[j]->name);
			for (e = 0; e < COST_EVENTS_; e++)
				fprintf(f, " %.6f", part[e] / 1e6);
			fputc('\n', f);
		}
	return fclose(f) ? VMMU_EIO : VMMU_OK;
}

static int script(const char *dir, const char *name, const char *title,
		  const char *ylabel, unsigned cols, bool stacked)
{
	FILE *f = open_out(dir, name);
	char base[64];

	if (!f)
		return VMMU_EIO;
	snprintf(base, sizeof(base), "%.*s", (int)(strlen(name) - 3), name);
	fprintf(f, "# vmmu run: gnuplot %s.gp (in this directory)\n"
		"set terminal pngcairo size 1100,600 noenhanced\n"
		"set output '%s.png'\nset title '%s'\nset ylabel '%s'\n"
		"set style data histograms\nset style histogram %s\n"
		"set style fill solid 0.8 border -1\nset key outside right\n"
		"set xtics rotate by -30\nset grid ytics\n"
		"plot for [c=2:%u] '%s.dat' using c:xtic(1) title columnheader\n",
		base, base, title, ylabel,
		stacked ? "rowstacked" : "clustered gap 1", cols + 1, base);
	return fclose(f) ? VMMU_EIO : VMMU_OK;
}

static int run_gnuplot(const char *dir, const char *gp)
{
	char cmd[8300];

	snprintf(cmd, sizeof(cmd), "cd '%s' && (gnuplot %s 2>/dev/null || "
		 "(sed -i 's/pngcairo/png/' %s && gnuplot %s))", dir, gp, gp, gp);
	return system(cmd) == 0 ? VMMU_OK : VMMU_EIO;
}

int report_plot(const char *dir, const struct run_session *s, char *err,
		size_t errlen)
{
	int rc = strchr(dir, '\'') ? VMMU_EINVAL : write_manifest(dir);

	if (rc == 0)
		rc = time_dat(dir, s);
	if (rc == 0)
		rc = breakdown_dat(dir, s);
	if (rc == 0)
		rc = script(dir, "run_time.gp", "vmmu run: estimated time per "
			    "workload and backend (estimate)", "ms (estimated)",
			    s->nbk, false);
	if (rc == 0)
		rc = script(dir, "run_breakdown.gp", "vmmu run: estimated time by "
			    "event class (estimate)", "ms (estimated)",
			    COST_EVENTS_, true);
	if (rc == 0)
		rc = run_gnuplot(dir, "run_time.gp");
	if (rc == 0)
		rc = run_gnuplot(dir, "run_breakdown.gp");
	if (rc < 0)
		snprintf(err, errlen, "--plot %s: cannot write the plots", dir);
	return rc;
}
