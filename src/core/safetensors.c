/*
 * safetensors.c — read (memory-mapped, validated) and write (atomic).
 *
 * Layout: u64 little-endian header length H, H bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
 *  "__metadata__": {...}}, then the data area; offsets are relative to it.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static const struct { const char *name; strata_dtype dt; } st_dtypes[] = {
    {"F32", STRATA_DTYPE_F32}, {"F16", STRATA_DTYPE_F16},
    {"BF16", STRATA_DTYPE_BF16}, {"I32", STRATA_DTYPE_I32},
    {"I64", STRATA_DTYPE_I64}, {"F64", STRATA_DTYPE_F64}, {"U8", STRATA_DTYPE_U8},
};

static const char *st_dtype_name(strata_dtype dt) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
    return NULL;
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const strata_tensor *)a)->name, ((const strata_tensor *)b)->name);
}

static int cmp_range(const void *a, const void *b) {
    const strata_tensor *x = *(const strata_tensor *const *)a;
    const strata_tensor *y = *(const strata_tensor *const *)b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

void strata_safetensors_free(strata_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) strata_free(st->t[i].name);
    strata_free(st->t);
    strata_free(st->metadata_json);
    if (st->map) munmap(st->map, st->map_len);
    memset(st, 0, sizeof *st);
}

strata_status strata_safetensors_load(strata_safetensors *st, const char *path,
                                      strata_error *err) {
    memset(st, 0, sizeof *st);
    void *map;
    size_t len;
    strata_status rc = strata__map_file(path, &map, &len, err);
    if (rc) return rc;
    st->map = map;
    st->map_len = len;
    cJSON *j = NULL;
    strata_tensor **order = NULL;
#define FAIL(...)                                            \
    do {                                                     \
        strata_error_set(err, STRATA_EFORMAT, __VA_ARGS__);  \
        goto fail;                                           \
    } while (0)
    if (len < 8) FAIL("%s: truncated safetensors file (%zu bytes)", path, len);
    const unsigned char *b = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
    if (hlen > len - 8) FAIL("%s: safetensors header length %llu past end of file",
                             path, (unsigned long long)hlen);
    if (hlen > (100u << 20)) FAIL("%s: safetensors header too large", path);
    const char *hdr = (const char *)b + 8;
    const unsigned char *data = b + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    j = cJSON_ParseWithLength(hdr, (size_t)hlen);
    if (!j || !cJSON_IsObject(j)) FAIL("%s: safetensors header is not a JSON object", path);
    int n = 0;
    for (cJSON *e = j->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) n++;
    st->t = strata_calloc((size_t)(n ? n : 1), sizeof *st->t);
    if (!st->t) {
        strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto fail;
    }
    for (cJSON *e = j->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (st->metadata_json) FAIL("%s: \"__metadata__\" appears twice", path);
            /* owned through the strata allocator, like everything freed by
             * strata_safetensors_free (cJSON allocates with malloc) */
            char *mj = cJSON_PrintUnformatted(e);
            st->metadata_json = mj ? strata_strdup(mj) : NULL;
            cJSON_free(mj);
            if (!st->metadata_json) {
                strata_error_set(err, STRATA_ENOMEM, "out of memory");
                goto fail;
            }
            continue;
        }
        const char *name = e->string;
        if (!cJSON_IsObject(e)) FAIL("%s: tensor \"%s\": entry is not an object", path, name);
        cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(jd)) FAIL("%s: tensor \"%s\": field \"dtype\" missing", path, name);
        if (!cJSON_IsArray(js)) FAIL("%s: tensor \"%s\": field \"shape\" missing", path, name);
        if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
            FAIL("%s: tensor \"%s\": field \"data_offsets\" missing or not [begin, end]", path, name);
        strata_tensor *t = &st->t[st->n];
        int found = 0;
        for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
            if (strcmp(jd->valuestring, st_dtypes[i].name) == 0) {
                t->dtype = st_dtypes[i].dt;
                found = 1;
            }
        if (!found) FAIL("%s: tensor \"%s\": unsupported dtype \"%s\"", path, name, jd->valuestring);
        int nd = cJSON_GetArraySize(js);
        if (nd > STRATA_NPY_MAX_DIMS) FAIL("%s: tensor \"%s\": too many dimensions", path, name);
        uint64_t count = 1;
        int i = 0;
        for (cJSON *d = js->child; d; d = d->next, i++) {
            if (!strata__json_int(d, 0, INT64_C(9000000000000000), &t->shape[i]))
                FAIL("%s: tensor \"%s\": field \"shape\" has a bad dimension", path, name);
            if (t->shape[i] && count > (UINT64_C(1) << 62) / (uint64_t)t->shape[i])
                FAIL("%s: tensor \"%s\": shape overflows", path, name);
            count *= (uint64_t)t->shape[i];
        }
        t->ndim = nd;
        t->count = (int64_t)count;
        int64_t ob, oe; /* (a cast of an out-of-range double would be undefined) */
        if (!strata__json_int(jo->child, 0, INT64_MAX, &ob) ||
            !strata__json_int(jo->child->next, 0, INT64_MAX, &oe) || oe < ob)
            FAIL("%s: tensor \"%s\": field \"data_offsets\" malformed", path, name);
        uint64_t ub = (uint64_t)ob, ue = (uint64_t)oe;
        if (ue > data_len)
            FAIL("%s: tensor \"%s\": data_offsets [%llu, %llu] past the end of the data "
                 "(%zu bytes)", path, name, (unsigned long long)ub, (unsigned long long)ue, data_len);
        t->nbytes = (size_t)(ue - ub);
        if ((uint64_t)t->nbytes != count * strata_dtype_size(t->dtype))
            FAIL("%s: tensor \"%s\": %zu bytes do not match shape of %llu %s elements",
                 path, name, t->nbytes, (unsigned long long)count, jd->valuestring);
        t->data = data + ub;
        t->name = strata_strdup(name);
        if (!t->name) {
            strata_error_set(err, STRATA_ENOMEM, "out of memory");
            goto fail;
        }
        st->n++;
    }
    /* Tensors must not overlap. */
    order = strata_malloc_array((size_t)(st->n ? st->n : 1), sizeof *order);
    if (!order) {
        strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < st->n; i++) order[i] = &st->t[i];
    qsort(order, (size_t)st->n, sizeof *order, cmp_range);
    for (int i = 1; i < st->n; i++) {
        const char *prev_end = (const char *)order[i - 1]->data + order[i - 1]->nbytes;
        if ((const char *)order[i]->data < prev_end)
            FAIL("%s: tensors \"%s\" and \"%s\" overlap", path, order[i - 1]->name, order[i]->name);
    }
    strata_free(order);
    order = NULL;
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_tensor);
    for (int i = 1; i < st->n; i++)
        if (strcmp(st->t[i].name, st->t[i - 1].name) == 0)
            FAIL("%s: tensor \"%s\" appears twice", path, st->t[i].name);
    cJSON_Delete(j);
    return STRATA_OK;
#undef FAIL
fail:
    strata_free(order);
    cJSON_Delete(j);
    strata_safetensors_free(st);
    return err ? err->status : STRATA_EFORMAT;
}

const strata_tensor *strata_safetensors_find(const strata_safetensors *st,
                                             const char *name) {
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) return &st->t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

strata_status strata_safetensors_save(const char *path, int n,
                                      const strata_tensor *tensors,
                                      const char *metadata_json,
                                      strata_error *err) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (metadata_json) {
        cJSON *m = cJSON_Parse(metadata_json);
        if (!m || !cJSON_IsObject(m)) {
            cJSON_Delete(m);
            cJSON_Delete(j);
            return strata_error_set(err, STRATA_EINVAL, "%s: metadata is not a JSON object", path);
        }
        cJSON_AddItemToObject(j, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const strata_tensor *t = &tensors[i];
        const char *dn = st_dtype_name(t->dtype);
        uint64_t count = 1;
        for (int d = 0; d < t->ndim; d++) count *= (uint64_t)t->shape[d];
        if (!dn || count * strata_dtype_size(t->dtype) != t->nbytes) {
            cJSON_Delete(j);
            return strata_error_set(err, STRATA_EINVAL, "%s: tensor \"%s\": bad dtype or size",
                                    path, t->name);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dtype", dn);
        cJSON *s = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(s, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + t->nbytes)));
        cJSON_AddItemToObject(j, t->name, e);
        off += t->nbytes;
    }
    char *h = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!h) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    size_t hl = strlen(h);
    size_t padded = (hl + 7) / 8 * 8;
    strata_atomic a;
    strata_status rc = strata_atomic_open(&a, path, err);
    if (rc) {
        cJSON_free(h);
        return rc;
    }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int bad = fwrite(lenb, 1, 8, a.fp) != 8 || fwrite(h, 1, hl, a.fp) != hl;
    for (size_t i = hl; i < padded && !bad; i++) bad = fputc(' ', a.fp) == EOF;
    cJSON_free(h);
    for (int i = 0; i < n && !bad; i++)
        bad = tensors[i].nbytes &&
              fwrite(tensors[i].data, 1, tensors[i].nbytes, a.fp) != tensors[i].nbytes;
    if (bad) {
        strata_atomic_abort(&a);
        return strata_error_set(err, STRATA_EIO, "%s: write failed", path);
    }
    return strata_atomic_commit(&a, err);
}
