/* The outbox channel: atomic one-file-per-message writes (temp file, fsync,
 * rename) and batched directory fsyncs. See outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096

struct sj_outbox_s {
    char *dir;
    char subs[SJ_OUTBOX_MAX_SUBDIRS][32];
    bool made[SJ_OUTBOX_MAX_SUBDIRS], dirty[SJ_OUTBOX_MAX_SUBDIRS];
    size_t n_subs;
};

/* mkdir -p */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX_LEN];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(tmp, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

sj_outbox_t *sj_outbox_new(const char *dir, char *errstr, size_t errstr_size)
{
    if (make_dirs(dir) != 0) {
        sj_seterr(errstr, errstr_size, "outbox.dir %s: cannot create: %s", dir,
                  strerror(errno));
        return NULL;
    }
    sj_outbox_t *o = calloc(1, sizeof *o);
    if (!o || !(o->dir = strdup(dir))) {
        free(o);
        sj_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    return o;
}

void sj_outbox_destroy(sj_outbox_t *o)
{
    if (!o) return;
    free(o->dir);
    free(o);
}

const char *sj_outbox_dir(const sj_outbox_t *o)
{
    return o->dir;
}

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Index of sub in o->subs, adding it; -1 when the table is full. */
static int sub_index(sj_outbox_t *o, const char *sub)
{
    for (size_t i = 0; i < o->n_subs; i++)
        if (!strcmp(o->subs[i], sub)) return (int)i;
    if (o->n_subs == SJ_OUTBOX_MAX_SUBDIRS) return -1;
    snprintf(o->subs[o->n_subs], sizeof o->subs[0], "%s", sub);
    return (int)o->n_subs++;
}

static sj_status_t write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return SJ_ERR_IO;
        p += w;
        len -= (size_t)w;
    }
    return SJ_OK;
}

sj_status_t sj_outbox_write(sj_outbox_t *o, const char *sub, const char *name,
                            const void *data, size_t len, char *errstr,
                            size_t errstr_size)
{
    if (!valid_name(sub, sizeof o->subs[0] - 1) || !valid_name(name, 128)) {
        sj_seterr(errstr, errstr_size, "outbox: invalid file name");
        return SJ_ERR_INPUT;
    }
    if (len > SJ_OUTBOX_MAX_FILE) {
        sj_seterr(errstr, errstr_size, "outbox: message of %zu bytes exceeds %u", len,
                  SJ_OUTBOX_MAX_FILE);
        return SJ_ERR_TOO_BIG;
    }
    int k = sub_index(o, sub);
    if (k < 0) {
        sj_seterr(errstr, errstr_size, "outbox: more than %d channel directories",
                  SJ_OUTBOX_MAX_SUBDIRS);
        return SJ_ERR_TOO_BIG;
    }
    char dir[PATH_MAX_LEN], tmp[PATH_MAX_LEN], final[PATH_MAX_LEN];
    snprintf(dir, sizeof dir, "%s/%s", o->dir, sub);
    if (!o->made[k] && make_dirs(dir) != 0) {
        sj_seterr(errstr, errstr_size, "outbox: cannot create %s: %s", dir,
                  strerror(errno));
        return SJ_ERR_IO;
    }
    o->made[k] = true;
    int n1 = snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
    int n2 = snprintf(final, sizeof final, "%s/%s", dir, name);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof tmp || (size_t)n2 >= sizeof final) {
        sj_seterr(errstr, errstr_size, "outbox: path too long under %s", dir);
        return SJ_ERR_INPUT;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        sj_seterr(errstr, errstr_size, "outbox: cannot create %s: %s", tmp,
                  strerror(errno));
        return SJ_ERR_IO;
    }
    sj_status_t st = write_all(fd, data, len);
    if (st == SJ_OK && fsync(fd) != 0) st = SJ_ERR_IO;
    int saved = errno;
    if (close(fd) != 0 && st == SJ_OK) {
        st = SJ_ERR_IO;
        saved = errno;
    }
    if (st == SJ_OK && rename(tmp, final) != 0) {
        st = SJ_ERR_IO;
        saved = errno;
    }
    if (st != SJ_OK) {
        unlink(tmp);
        sj_seterr(errstr, errstr_size, "outbox: writing %s: %s", final, strerror(saved));
        return st;
    }
    o->dirty[k] = true;
    return SJ_OK;
}

bool sj_outbox_exists(const sj_outbox_t *o, const char *sub, const char *name)
{
    char path[PATH_MAX_LEN];
    int n = snprintf(path, sizeof path, "%s/%s/%s", o->dir, sub, name);
    struct stat sb;
    return n > 0 && (size_t)n < sizeof path && stat(path, &sb) == 0;
}

sj_status_t sj_outbox_sync(sj_outbox_t *o, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < o->n_subs; i++) {
        if (!o->dirty[i]) continue;
        char dir[PATH_MAX_LEN];
        snprintf(dir, sizeof dir, "%s/%s", o->dir, o->subs[i]);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0) {
            sj_seterr(errstr, errstr_size, "outbox: fsync %s: %s", dir, strerror(errno));
            if (fd >= 0) close(fd);
            return SJ_ERR_IO;
        }
        close(fd);
        o->dirty[i] = false;
    }
    return SJ_OK;
}
