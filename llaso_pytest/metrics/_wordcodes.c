/* Word codes for WER: whitespace tokenising and interning without word objects.
 *
 * pair_codes(refs, hyps) -> (ref_codes, hyp_codes)
 *
 * Splits every text exactly like str.split() (runs of Py_UNICODE_ISSPACE characters) and
 * gives every distinct word of one (reference, hypothesis) pair its own code point, so
 * that item i becomes two short strings whose characters stand for words. Equal words of
 * a pair get equal code points and different words different ones, which is all an edit
 * distance or an alignment looks at: rapidfuzz then compares two strings instead of two
 * lists of word objects, with the same distances, opcodes and editops.
 *
 * Codes are numbered per pair from 0, so typical items become 1-byte strings. A pair with
 * more than 0x110000 distinct words raises OverflowError (the caller falls back to token
 * lists). The hypothesis of an identical pair shares the reference's code string.
 *
 * Pure function of its inputs; holds the GIL throughout (it creates Python objects) and
 * calls no Python code, so the input lists cannot change while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_CODE 0x10FFFF

typedef struct {
    uint64_t hash;
    uint64_t stamp;          /* pair number + 1 while the slot holds a word of that pair */
    const void *data;        /* the text's characters (borrowed from a live str) */
    Py_ssize_t start, len;   /* the word, in characters */
    int kind;                /* PyUnicode kind of data */
    Py_UCS4 code;
} Slot;

typedef struct {
    Slot *slots;
    size_t cap;              /* a power of two (64 or more), or 0 before the first word */
    uint64_t stamp;
    Py_UCS4 next_code;
    Py_UCS4 *buf;
    Py_ssize_t buf_cap;
} Coder;

static int
words_equal(const Slot *s, int kind, const void *data, Py_ssize_t start, Py_ssize_t len)
{
    if (s->len != len)
        return 0;
    if (s->kind == kind)
        return memcmp((const char *)s->data + s->start * kind,
                      (const char *)data + start * kind, (size_t)(len * kind)) == 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        if (PyUnicode_READ(s->kind, s->data, s->start + k)
            != PyUnicode_READ(kind, data, start + k))
            return 0;
    }
    return 1;
}

static size_t
slot_index(uint64_t hash, size_t mask)
{
    return (size_t)(hash ^ (hash >> 29)) & mask;
}

/* Double the table (at least 64 slots), moving the current pair's words. */
static int
coder_grow(Coder *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    Slot *slots = PyMem_Calloc(cap, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t k = 0; k < c->cap; k++) {
        const Slot *s = &c->slots[k];
        if (s->stamp != c->stamp)
            continue;
        size_t i = slot_index(s->hash, cap - 1);
        while (slots[i].stamp == c->stamp)
            i = (i + 1) & (cap - 1);
        slots[i] = *s;
    }
    PyMem_Free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

/* Start a new pair: the old pair's slots become free by their stamp (no clearing). */
static void
coder_begin_pair(Coder *c)
{
    c->stamp++;
    c->next_code = 0;
}

static int
coder_reserve(Coder *c, Py_ssize_t n)
{
    if (n <= c->buf_cap)
        return 0;
    Py_ssize_t cap = c->buf_cap ? c->buf_cap : 64;
    while (cap < n)
        cap *= 2;
    Py_UCS4 *buf = PyMem_Realloc(c->buf, (size_t)cap * sizeof(Py_UCS4));
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->buf = buf;
    c->buf_cap = cap;
    return 0;
}

/* The code point of one word, interned in the current pair's table. */
static int
coder_code(Coder *c, int kind, const void *data, Py_ssize_t start, Py_ssize_t len,
           uint64_t hash, Py_UCS4 *out)
{
    /* keep the load at most 1/2; next_code counts the pair's words */
    if (((size_t)c->next_code + 1) * 2 > c->cap && coder_grow(c) < 0)
        return -1;
    size_t mask = c->cap - 1;
    size_t i = slot_index(hash, mask);
    for (;;) {
        Slot *s = &c->slots[i];
        if (s->stamp != c->stamp) {
            if (c->next_code > MAX_CODE) {
                PyErr_SetString(PyExc_OverflowError,
                                "more than 0x110000 distinct words in one pair");
                return -1;
            }
            s->stamp = c->stamp;
            s->hash = hash;
            s->data = data;
            s->kind = kind;
            s->start = start;
            s->len = len;
            s->code = c->next_code++;
            *out = s->code;
            return 0;
        }
        if (s->hash == hash && words_equal(s, kind, data, start, len)) {
            *out = s->code;
            return 0;
        }
        i = (i + 1) & mask;
    }
}

/* The code string of one text (a new reference). */
static PyObject *
coder_encode(Coder *c, PyObject *text)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (coder_reserve(c, n / 2 + 1) < 0)
        return NULL;
    Py_ssize_t count = 0, j = 0;
    while (j < n) {
        while (j < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)))
            j++;
        if (j == n)
            break;
        Py_ssize_t start = j;
        uint64_t h = 14695981039346656037ULL;  /* FNV-1a over code points */
        do {
            h = (h ^ PyUnicode_READ(kind, data, j)) * 1099511628211ULL;
            j++;
        } while (j < n && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)));
        if (coder_code(c, kind, data, start, j - start, h, &c->buf[count]) < 0)
            return NULL;
        count++;
    }
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, c->buf, count);
}

static PyObject *
check_text(PyObject *list, Py_ssize_t i, const char *side)
{
    PyObject *t = PyList_GET_ITEM(list, i);
    if (!PyUnicode_Check(t)) {
        PyErr_Format(PyExc_TypeError, "%s item %zd is %.100s, not str", side, i,
                     Py_TYPE(t)->tp_name);
        return NULL;
    }
    return t;
}

static PyObject *
pair_codes(PyObject *module, PyObject *args)
{
    PyObject *refs, *hyps;
    if (!PyArg_ParseTuple(args, "O!O!:pair_codes", &PyList_Type, &refs, &PyList_Type, &hyps))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(refs);
    if (PyList_GET_SIZE(hyps) != n) {
        PyErr_Format(PyExc_ValueError, "%zd references but %zd hypotheses", n,
                     PyList_GET_SIZE(hyps));
        return NULL;
    }
    Coder c = {0};
    PyObject *out_r = PyList_New(n), *out_h = PyList_New(n), *result = NULL;
    if (out_r == NULL || out_h == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = check_text(refs, i, "reference");
        PyObject *h = r ? check_text(hyps, i, "hypothesis") : NULL;
        if (h == NULL)
            goto done;
        coder_begin_pair(&c);
        PyObject *rc = coder_encode(&c, r);
        if (rc == NULL)
            goto done;
        PyList_SET_ITEM(out_r, i, rc);
        int same = (h == r);
        if (!same && PyUnicode_GET_LENGTH(h) == PyUnicode_GET_LENGTH(r)) {
            same = PyUnicode_Compare(h, r) == 0;
        }
        PyObject *hc;
        if (same) {
            Py_INCREF(rc);
            hc = rc;
        }
        else if ((hc = coder_encode(&c, h)) == NULL)
            goto done;
        PyList_SET_ITEM(out_h, i, hc);
    }
    result = PyTuple_Pack(2, out_r, out_h);
done:
    Py_XDECREF(out_r);
    Py_XDECREF(out_h);
    PyMem_Free(c.slots);
    PyMem_Free(c.buf);
    return result;
}

static PyMethodDef methods[] = {
    {"pair_codes", pair_codes, METH_VARARGS,
     "pair_codes(refs, hyps) -> (ref_codes, hyp_codes)\n\n"
     "Split each text like str.split() and replace every word by a code point that is\n"
     "unique to that word within its (reference, hypothesis) pair."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wordcodes",
    "Whitespace tokenising and per-pair word interning for WER (see pair_codes).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__wordcodes(void)
{
    return PyModule_Create(&module);
}
