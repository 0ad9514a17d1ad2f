/*
 * manifest.c — output directories written as a unit (io.h).
 *
 * A command that writes a directory (a cluster, a plan, a model, a training
 * checkpoint) first marks it incomplete, then writes its files (each one
 * atomically), then writes DIR/manifest.json listing them with their sizes,
 * last. A reader that finds "complete": false knows a run was interrupted
 * or failed there, whatever mix of old and new files it left; a listed file
 * that is missing or has another size means the directory was changed
 * afterwards. A directory without a manifest was not written by Strata (a
 * Hugging Face model, a hand-made assign.npy) or by a release before
 * manifests, and is read as it is.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/io.h"
#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_FORMAT "strata-dir"

/* fsync of a directory, so renames inside it survive a crash (best effort). */
static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A name inside the directory: relative, no "." or ".." component. */
static int safe_name(const char *s) {
    if (!s[0] || s[0] == '/') return 0;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n + (e ? 1 : 0);
    }
    return 1;
}

/* Reads DIR/manifest.json: *out NULL (and OK) when absent. */
static strata_status read_manifest(const char *dir, const char *path, cJSON **out,
                                   strata_error *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return STRATA_OK;
        return strata_error_set(err, STRATA_EIO, "%s: %s", path, strerror(errno));
    }
    cJSON *j;
    strata_status st = strata__json_read(path, &j, err);
    if (st) return st;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsObject(j) || !cJSON_IsString(f) || strcmp(f->valuestring, MANIFEST_FORMAT) != 0) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: field \"format\" is not \"" MANIFEST_FORMAT
                                "\" (not a Strata directory manifest; %s is not a unit Strata wrote)",
                                path, dir);
    }
    *out = j;
    return STRATA_OK;
}

static strata_status write_manifest(const char *path, const char *kind, int complete,
                                    cJSON *files, strata_error *err) {
    cJSON *j = cJSON_CreateObject();
    if (!j || !cJSON_AddStringToObject(j, "format", MANIFEST_FORMAT) ||
        !cJSON_AddNumberToObject(j, "version", 1) || !cJSON_AddStringToObject(j, "kind", kind) ||
        !cJSON_AddBoolToObject(j, "complete", complete)) {
        cJSON_Delete(j);
        cJSON_Delete(files);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    if (files) cJSON_AddItemToObject(j, "files", files);
    strata_status st = strata__json_write(path, j, err);
    cJSON_Delete(j);
    return st;
}

strata_status strata_dir_begin(const char *dir, const char *kind, strata_error *err) {
    strata_status st = strata_mkdirs(dir, err);
    if (st) return st;
    char *path = strata_path_join(dir, STRATA_MANIFEST);
    if (!path) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    st = write_manifest(path, kind, 0, NULL, err);
    if (!st) fsync_dir(dir);
    strata_free(path);
    return st;
}

/* Appends {"name", "bytes"} of dir/name to arr (skipping a name already
 * there). */
static strata_status add_file(cJSON *arr, const char *dir, const char *name,
                              strata_error *err) {
    if (!safe_name(name) || strcmp(name, STRATA_MANIFEST) == 0)
        return strata_error_set(err, STRATA_EINVAL, "%s: bad file name \"%s\" for the manifest",
                                dir, name);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return STRATA_OK;
    }
    char *p = strata_path_join(dir, name);
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    struct stat sb;
    int ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    int e2 = errno;
    strata_free(p);
    if (!ok)
        return strata_error_set(err, STRATA_EIO, "%s/%s: cannot list in the manifest: %s", dir,
                                name, strerror(e2));
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", name) ||
        !cJSON_AddNumberToObject(o, "bytes", (double)sb.st_size) || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    return STRATA_OK;
}

strata_status strata_dir_commit(const char *dir, const char *kind, const char *const *files,
                                int n, strata_error *err) {
    char *path = strata_path_join(dir, STRATA_MANIFEST);
    if (!path) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    cJSON *old = NULL, *arr = NULL;
    strata_status st = read_manifest(dir, path, &old, err);
    if (st) goto done;
    /* a complete manifest (no begin since): a unit written inside this one,
     * whose files stay listed */
    const cJSON *oc = old ? cJSON_GetObjectItemCaseSensitive(old, "complete") : NULL;
    const cJSON *of = old ? cJSON_GetObjectItemCaseSensitive(old, "files") : NULL;
    if (cJSON_IsTrue(oc) && cJSON_IsArray(of)) {
        arr = cJSON_DetachItemFromObjectCaseSensitive(old, "files");
    } else {
        arr = cJSON_CreateArray();
    }
    if (!arr) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n && !st; i++) st = add_file(arr, dir, files[i], err);
    if (st) goto done;
    st = write_manifest(path, kind, 1, arr, err);
    arr = NULL;
    if (!st) fsync_dir(dir);
done:
    cJSON_Delete(arr);
    cJSON_Delete(old);
    strata_free(path);
    return st;
}

strata_status strata_dir_check(const char *dir, const char *kind, int *found,
                               strata_error *err) {
    if (found) *found = 0;
    char *path = strata_path_join(dir, STRATA_MANIFEST);
    if (!path) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    cJSON *j = NULL;
    strata_status st = read_manifest(dir, path, &j, err);
    if (st || !j) goto done;
    if (found) *found = 1;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "complete");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    const char *has = cJSON_IsString(k) ? k->valuestring : "?";
    if (!cJSON_IsTrue(c)) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: incomplete %s directory (%s says \"complete\": false: the run "
                              "writing it was interrupted or failed); write it again",
                              dir, has, STRATA_MANIFEST);
        goto done;
    }
    if (kind && strcmp(has, kind) != 0) {
        st = strata_error_set(err, STRATA_EFORMAT, "%s: a %s directory, expected a %s directory",
                              dir, has, kind);
        goto done;
    }
    if (!cJSON_IsArray(files)) {
        st = strata_error_set(err, STRATA_EFORMAT, "%s: field \"files\" missing", path);
        goto done;
    }
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, files) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(e, "bytes");
        if (!cJSON_IsString(nm) || !safe_name(nm->valuestring) || !cJSON_IsNumber(by) ||
            by->valuedouble < 0) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: field \"files\"[%d] needs a relative \"name\" and \"bytes\"",
                                  path, i);
            goto done;
        }
        char *p = strata_path_join(dir, nm->valuestring);
        if (!p) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: missing, but listed in %s (the directory was changed after "
                                  "it was written; remove %s to use it as it is)", p, path,
                                  STRATA_MANIFEST);
        else if ((double)sb.st_size != by->valuedouble)
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: %lld bytes, but %s says %.0f (the directory was changed "
                                  "after it was written; remove %s to use it as it is)", p,
                                  (long long)sb.st_size, path, by->valuedouble, STRATA_MANIFEST);
        strata_free(p);
        if (st) goto done;
        i++;
    }
done:
    cJSON_Delete(j);
    strata_free(path);
    return st;
}
