/* Secrets kept in files rather than on the command line (where /proc/PID/cmdline shows them to
 * every local user): --secret-file and --user-file, and the permission check that --config files
 * holding secrets go through as well; see options_priv.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ntsd/options_priv.h"

#define NTS_SECRET_FILE_MAX (64 * 1024)

int nts_secret_mode_check(int fd, const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return nts_opt_fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
	/* Only regular files: a FIFO or device could block start-up or never end. */
	if (!S_ISREG(st.st_mode))
		return nts_opt_fail(err, errlen, "%s %s: not a regular file", what, path);
	if (st.st_mode & (S_IRGRP | S_IROTH))
		return nts_opt_fail(err, errlen,
				    "%s %s holds secrets but is readable by %s (mode %04o); "
				    "run: chmod 600 %s",
				    what, path, (st.st_mode & S_IROTH) ? "others" : "its group",
				    (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int nts_secret_file_read(const char *what, const char *path, char **buf, size_t *len, char *err,
			 size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc;
	char *b;
	size_t n = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return nts_opt_fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
	rc = nts_secret_mode_check(fd, what, path, err, errlen);
	b = rc ? NULL : malloc(NTS_SECRET_FILE_MAX);
	if (!rc && !b)
		rc = nts_opt_fail(err, errlen, "%s %s: out of memory", what, path);
	while (!rc) {
		ssize_t r = read(fd, b + n, NTS_SECRET_FILE_MAX - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = nts_opt_fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
		else if (r == 0)
			break;
		else if ((n += (size_t)r) == NTS_SECRET_FILE_MAX)
			rc = nts_opt_fail(err, errlen, "%s %s: larger than %d bytes", what, path,
					  NTS_SECRET_FILE_MAX - 1);
	}
	close(fd);
	if (rc) {
		if (b)
			explicit_bzero(b, n);
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}
