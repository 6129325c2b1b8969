/* Small filesystem helpers shared by the daemon's modules (control socket, database).
 */
#ifndef NTS_UTIL_FS_H
#define NTS_UTIL_FS_H

#include <sys/types.h>

/* mkdir -p of path's parent directory, creating what is missing with mode; 0, or -ENOTDIR when the
 * parent exists but is not a directory, or another -errno. */
int nts_mkdir_parent(const char *path, mode_t mode);

#endif
