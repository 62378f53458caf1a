/* SPDX-License-Identifier: MIT */
/* TCP endpoints for the migration stream, and size arguments. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migrate/migrate.h"

/* Split "HOST:PORT" or "PORT" (host NULL then). */
static int split(const char *spec, char *host, size_t hl, const char **port)
{
	const char *c = strrchr(spec, ':');

	if (!c) {
		host[0] = 0;
		*port = spec;
		return 0;
	}
	if ((size_t)(c - spec) >= hl)
		return -1;
	memcpy(host, spec, (size_t)(c - spec));
	host[c - spec] = 0;
	*port = c + 1;
	return 0;
}

static struct addrinfo *resolve(const char *spec, bool passive, char *why,
				size_t wl)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[256];
	const char *port;
	int rc;

	if (split(spec, host, sizeof(host), &port) < 0 || !*port) {
		snprintf(why, wl, "bad address '%s' (want [HOST:]PORT)", spec);
		return NULL;
	}
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc) {
		snprintf(why, wl, "%s: %s", spec, gai_strerror(rc));
		return NULL;
	}
	return res;
}

int mig_listen(const char *spec, char *name, size_t namelen, char *why,
	       size_t whylen)
{
	struct addrinfo *ai = resolve(spec, true, why, whylen);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd, one = 1;
	char ip[INET_ADDRSTRLEN];

	if (!ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 1) < 0 || getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		snprintf(why, whylen, "listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
	snprintf(name, namelen, "%s:%u", ip, (unsigned)ntohs(a.sin_port));
	return fd;
}

int mig_connect(const char *spec, char *why, size_t whylen)
{
	struct addrinfo *ai = resolve(spec, false, why, whylen);
	int fd, one = 1;

	if (!ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		snprintf(why, whylen, "connect to %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(ai);
	return fd;
}

int mig_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned sh = 0;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 0: break;
	case 'K': case 'k': sh = 10; end++; break;
	case 'M': case 'm': sh = 20; end++; break;
	case 'G': case 'g': sh = 30; end++; break;
	case 'T': case 't': sh = 40; end++; break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || (sh && v > (~0ULL >> sh)))
		return -1;
	*out = (uint64_t)v << sh;
	return 0;
}
