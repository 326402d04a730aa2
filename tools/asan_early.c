/*
 * asan_early.c — preloaded after libasan by tools/sanitize.  The server links
 * libgpg-error, whose constructor calls bindtextdomain() before ASan's own
 * constructor has run; ASan then initializes inside the malloc() that glibc
 * makes while holding its gettext lock, calls dlerror() -> dcgettext() under
 * that lock and leaves it corrupted, and the postmaster hangs in its own
 * bindtextdomain().  Interposing bindtextdomain() and calling malloc() first
 * initializes ASan outside the lock.  Not part of the extension.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char	   *bindtextdomain(const char *domain, const char *dir);

char *
bindtextdomain(const char *domain, const char *dir)
{
	static char *(*real) (const char *, const char *);
	void	   *volatile p = malloc(1);	/* volatile: the pair must not be optimized away */

	free(p);
	if (real == NULL)
		real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	return real(domain, dir);
}
