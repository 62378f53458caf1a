/* SPDX-License-Identifier: MIT */
/*
 * CPU names: vmmu's own microarchitecture for AMD and Hygon parts (Intel's
 * is set with its VMX inference in uarch.c), and whether libcpuid's
 * codename agrees with it. libcpuid 0.6.2 does not know recent parts and
 * often names them after an older die ("Xeon (Conroe/2M)" for an Emerald
 * Rapids); vmmu shows its codename only where the die name in it belongs to
 * vmmu's microarchitecture, or where vmmu has none to hold it against.
 *
 * AMD families and models: AMD's Revision Guides and BIOS and Kernel
 * Developer's Guides per family (10h, 12h, 14h, 15h, 16h, 17h, 19h, 1Ah).
 */
#include <stdio.h>
#include <string.h>

#include "cpuid_internal.h"

struct amd_range {
	int family, model_lo, model_hi;
	const char *name;
};

/* First match wins: the single Zen+ models come before their ranges. */
static const struct amd_range amd_table[] = {
	{ 0x05, 0x00, 0x05, "K5" },
	{ 0x05, 0x06, 0x0d, "K6" },
	{ 0x06, 0x00, 0xff, "K7" },
	{ 0x0f, 0x00, 0xff, "K8" },
	{ 0x10, 0x00, 0xff, "K10" },
	{ 0x11, 0x00, 0xff, "K8" },             /* Griffin: K8 core */
	{ 0x12, 0x00, 0xff, "K10" },            /* Llano */
	{ 0x14, 0x00, 0xff, "Bobcat" },
	{ 0x15, 0x02, 0x02, "Piledriver" },     /* Vishera, Abu Dhabi */
	{ 0x15, 0x00, 0x0f, "Bulldozer" },
	{ 0x15, 0x10, 0x1f, "Piledriver" },
	{ 0x15, 0x30, 0x3f, "Steamroller" },
	{ 0x15, 0x60, 0x7f, "Excavator" },
	{ 0x16, 0x00, 0x2f, "Jaguar" },
	{ 0x16, 0x30, 0x3f, "Puma" },
	{ 0x17, 0x08, 0x08, "Zen+" },           /* Pinnacle Ridge */
	{ 0x17, 0x18, 0x18, "Zen+" },           /* Picasso */
	{ 0x17, 0x00, 0x2f, "Zen" },
	{ 0x17, 0x30, 0xff, "Zen 2" },
	{ 0x18, 0x00, 0xff, "Zen" },            /* Hygon Dhyana */
	{ 0x19, 0x00, 0x0f, "Zen 3" },
	{ 0x19, 0x10, 0x1f, "Zen 4" },
	{ 0x19, 0x20, 0x3f, "Zen 3" },
	{ 0x19, 0x40, 0x4f, "Zen 3+" },
	{ 0x19, 0x50, 0x5f, "Zen 3" },
	{ 0x19, 0x60, 0x7f, "Zen 4" },
	{ 0x19, 0xa0, 0xaf, "Zen 4" },
	{ 0x1a, 0x00, 0xff, "Zen 5" },
};

void vmmu_uarch_amd(struct vmmu_cpu_ident *cpu)
{
	size_t i;

	if (cpu->vendor != VMMU_VENDOR_AMD && cpu->vendor != VMMU_VENDOR_HYGON)
		return;
	for (i = 0; i < sizeof(amd_table) / sizeof(amd_table[0]); i++)
		if (amd_table[i].family == cpu->family &&
		    cpu->model >= amd_table[i].model_lo &&
		    cpu->model <= amd_table[i].model_hi) {
			snprintf(cpu->uarch, sizeof(cpu->uarch), "%s",
				 amd_table[i].name);
			return;
		}
}

/*
 * Die and product names of each microarchitecture, as libcpuid spells them
 * in its codenames. A codename holding one of them agrees with vmmu.
 */
static const struct {
	const char *uarch;
	const char *dies;       /* '|'-separated */
} dies[] = {
	{ "P6", "Pentium Pro|Klamath|Deschutes|Katmai|Coppermine|Tualatin|"
		"Mendocino|Covington|Dixon|Banias|Dothan|Pentium II|"
		"Pentium III|Pentium M|Celeron" },
	{ "NetBurst", "Willamette|Northwood|Prescott|Cedar Mill|Smithfield|"
		      "Presler|Gallatin|Foster|Prestonia|Nocona|Irwindale|"
		      "Cranford|Potomac|Paxville|Tulsa|Pentium 4|Pentium D|"
		      "Pentium(R) 4" },
	{ "Yonah", "Yonah" },
	{ "Merom", "Merom|Conroe|Kentsfield|Allendale|Woodcrest|Clovertown|"
		   "Tigerton" },
	{ "Penryn", "Penryn|Wolfdale|Yorkfield|Harpertown|Dunnington" },
	{ "Bonnell", "Diamondville|Pineview|Silverthorne|Lincroft|Bonnell" },
	{ "Saltwell", "Cedarview|Cedar Trail|Saltwell|Penwell|Cloverview" },
	{ "Nehalem", "Nehalem|Bloomfield|Lynnfield|Clarksfield|Gainestown|"
		     "Beckton|Jasper Forest" },
	{ "Westmere", "Westmere|Clarkdale|Arrandale|Gulftown" },
	{ "Sandy Bridge", "Sandy Bridge" },
	{ "Ivy Bridge", "Ivy Bridge" },
	{ "Haswell", "Haswell" },
	{ "Broadwell", "Broadwell" },
	{ "Skylake", "Skylake|Kaby Lake|Coffee Lake|Whiskey Lake|Amber Lake|"
		     "Comet Lake|Cascade Lake|Cooper Lake" },
	{ "Palm Cove", "Cannon Lake" },
	{ "Sunny Cove", "Ice Lake|Lakefield" },
	{ "Willow Cove", "Tiger Lake" },
	{ "Cypress Cove", "Rocket Lake" },
	{ "Golden Cove", "Alder Lake|Sapphire Rapids" },
	{ "Raptor Cove", "Raptor Lake|Emerald Rapids" },
	{ "Redwood Cove", "Meteor Lake|Granite Rapids" },
	{ "Lion Cove", "Lunar Lake|Arrow Lake" },
	{ "Silvermont", "Bay Trail|Avoton|Rangeley|Silvermont|Merrifield|"
			"Knights Landing" },
	{ "Airmont", "Cherry Trail|Braswell|Airmont" },
	{ "Goldmont", "Apollo Lake|Denverton|Goldmont" },
	{ "Goldmont Plus", "Gemini Lake|Goldmont Plus" },
	{ "Tremont", "Jasper Lake|Elkhart Lake|Snow Ridge|Tremont" },
	{ "Gracemont", "Alder Lake-N|Gracemont" },
	{ "K5", "K5|SSA5|5k86" },
	{ "K6", "K6|Little Foot|Chomper|Sharptooth" },
	{ "K7", "K7|Athlon|Duron|Spitfire|Palomino|Thoroughbred|Barton|"
		"Thunderbird|Applebred|Morgan|Thorton|Argon|Pluto|Orion" },
	{ "K8", "K8|Athlon 64|Opteron|Sempron|Turion|Clawhammer|Newcastle|"
		"Winchester|Venice|San Diego|Toledo|Manchester|Windsor|"
		"Brisbane|Lima|Sherman|Manila|Orleans|Denmark|Italy|Egypt|"
		"Santa Rosa|Troy|Athens|Sledgehammer|Taylor|Tyler|Trinidad|"
		"Lion|Griffin|Sable|Keene|Paris|Palermo|Georgetown|Sonora|"
		"Richmond|Albany|Roma" },
	{ "K10", "K10|Phenom|Athlon II|Agena|Deneb|Thuban|Toliman|Kuma|"
		 "Regor|Rana|Propus|Callisto|Heka|Sargas|Barcelona|Shanghai|"
		 "Istanbul|Magny-Cours|Lisbon|Budapest|Llano|Sabine|Champlain|"
		 "Caspian|Geneva|Zosma|Athlon X2|Sempron" },
	{ "Bobcat", "Bobcat|Brazos|Ontario|Zacate|Desna|Hondo" },
	{ "Bulldozer", "Bulldozer|Zambezi|Interlagos|Valencia|Zurich" },
	{ "Piledriver", "Piledriver|Vishera|Trinity|Richland|Abu Dhabi|Seoul|"
			"Delhi" },
	{ "Steamroller", "Steamroller|Kaveri|Godavari|Berlin|Bald Eagle" },
	{ "Excavator", "Excavator|Carrizo|Bristol Ridge|Stoney Ridge" },
	{ "Jaguar", "Jaguar|Kabini|Temash|Kyoto" },
	{ "Puma", "Puma|Beema|Mullins|Steppe Eagle|Crowned Eagle" },
	{ "Zen", "Summit Ridge|Raven Ridge|Naples|Whitehaven|Snowy Owl|"
		 "Great Horned Owl|Banded Kestrel|Dali|Pollock|Dhyana" },
	{ "Zen+", "Pinnacle Ridge|Picasso|Colfax" },
	{ "Zen 2", "(Zen 2)|Matisse|Renoir|Lucienne|Castle Peak|Rome|Mendocino|"
		   "Van Gogh|Grey Hawk|Ariel|Oberon|Aerith" },
	{ "Zen 3", "Vermeer|Cezanne|Barcelo|Milan|Chagall|Badami" },
	{ "Zen 3+", "Rembrandt" },
	{ "Zen 4", "Raphael|Phoenix|Hawk Point|Dragon Range|Genoa|Bergamo|"
		   "Siena|Storm Peak" },
	{ "Zen 5", "Granite Ridge|Strix Point|Strix Halo|Krackan|Fire Range|"
		   "Turin|Shimada Peak" },
};

static bool has_die(const char *codename, const char *list)
{
	char die[64];
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, "|");

		snprintf(die, sizeof(die), "%.*s", (int)n, p);
		if (n && strstr(codename, die))
			return true;
		p += n + (p[n] == '|');
	}
	return false;
}

void vmmu_check_codename(struct vmmu_cpu_ident *cpu)
{
	size_t i;

	if (!cpu->identified || !cpu->codename[0] ||
	    !strcmp(cpu->codename, "Unknown")) {
		cpu->codename_check = VMMU_CODENAME_NONE;
		return;
	}
	if (!cpu->uarch[0]) {
		cpu->codename_check = VMMU_CODENAME_UNCHECKED;
		return;
	}
	cpu->codename_check = VMMU_CODENAME_INCONSISTENT;
	for (i = 0; i < sizeof(dies) / sizeof(dies[0]); i++)
		if (!strcmp(dies[i].uarch, cpu->uarch) &&
		    has_die(cpu->codename, dies[i].dies))
			cpu->codename_check = VMMU_CODENAME_CONSISTENT;
}

const char *vmmu_cpu_libcpuid_codename(const struct vmmu_cpu_ident *cpu)
{
	return cpu->codename_check == VMMU_CODENAME_CONSISTENT ||
	       cpu->codename_check == VMMU_CODENAME_UNCHECKED ? cpu->codename
	       : "";
}

const char *vmmu_codename_check_name(enum vmmu_codename_check c)
{
	switch (c) {
	case VMMU_CODENAME_CONSISTENT: return "consistent";
	case VMMU_CODENAME_UNCHECKED: return "unchecked";
	case VMMU_CODENAME_INCONSISTENT: return "inconsistent";
	case VMMU_CODENAME_NONE: break;
	}
	return "unidentified";
}

void vmmu_cpu_name(const struct vmmu_cpu_ident *cpu, char *buf, size_t len)
{
	const char *cn = vmmu_cpu_libcpuid_codename(cpu);

	if (cpu->uarch[0] && cn[0])
		snprintf(buf, len, "%s (libcpuid: %s)", cpu->uarch, cn);
	else if (cpu->uarch[0])
		snprintf(buf, len, "%s", cpu->uarch);
	else if (cn[0])
		snprintf(buf, len, "libcpuid: %s", cn);
	else
		snprintf(buf, len, "unknown microarchitecture");
}
