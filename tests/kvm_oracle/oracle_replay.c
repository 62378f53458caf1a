/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include "oracle_replay.h"

int orc_replay_file(const char *path, bool pretty)
{
	(void)pretty;
	fprintf(stderr, "kvm_oracle: --case %s: not implemented yet\n", path);
	return 2;
}
