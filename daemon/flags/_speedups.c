/* The flags' evaluation, in C: `Flags.enabled(flag, actor=None)` without a Python frame.
 *
 * One job. An evaluation reads the flag's row in the flags server's state table (a dict owned by
 * the server: daemon/flags/server.py documents the row) and answers from it:
 *
 *   - no row: `unknown(flag)` (the server counts and logs the undeclared flag);
 *   - a constant (row[2] not None: the answer depends on no actor and no chance): that;
 *   - a percentage of actors alone (row[6], `(group_id, percentage, buckets)`) and a `str` actor:
 *     the actor's remembered bucket, or Unleash's normalized value computed here -- murmur3 x86
 *     32-bit, seed 0, of the UTF-8 bytes of "{group_id}:{actor}", % 100 + 1 -- remembered in
 *     `buckets` (cleared once it holds BUCKETS_KEPT actors), enabled iff bucket <= percentage;
 *   - anything else: the row's compiled evaluator, row[5](actor), in Python.
 *
 * Anything uncommon (keyword arguments, a wrong number of arguments, a row that is not the
 * expected tuple, a string that UTF-8 cannot carry -- a lone surrogate) goes to `slow`, the
 * pure-Python evaluator, or to `bucket_into`, the Python bucketing: each behaviour and each error
 * message has one implementation. daemon/flags/server.py's `_evaluator` is this file's twin,
 * chosen by `ARBORD_NO_EXTENSIONS=1` (daemon/flags/fastpath.py); tests/daemon/test_flags_fastpath.py
 * checks both against the gate model and this murmur3 against mmh3.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>

#define ROW_CONSTANT 2
#define ROW_COMPILED 5
#define ROW_SPLIT 6
#define BUCKETS 100
#define BUCKETS_KEPT 10000
#define KEY_ON_STACK 256

/* --- murmur3, x86 32-bit (Austin Appleby's public-domain MurmurHash3_x86_32) ------------------ */

static inline uint32_t
rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t
read32(const unsigned char *p)
{
    /* Little-endian, whatever the machine: the hash is defined on the bytes. */
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t
murmur3_32(const unsigned char *data, size_t len, uint32_t seed)
{
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    size_t nblocks = len / 4, i;
    const unsigned char *tail = data + nblocks * 4;
    uint32_t h = seed, k;
    size_t rest = len & 3;

    for (i = 0; i < nblocks; i++) {
        k = read32(data + i * 4);
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    k = 0;
    if (rest == 3) {
        k ^= (uint32_t)tail[2] << 16;
    }
    if (rest >= 2) {
        k ^= (uint32_t)tail[1] << 8;
    }
    if (rest >= 1) {
        k ^= (uint32_t)tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* The bucket in 1..100 of "{group}:{actor}", or 0 with no exception set when either string has no
 * UTF-8 form (the caller then asks Python), or -1 with an exception set. */
static long
bucket_of(PyObject *group, PyObject *actor)
{
    const char *g, *a;
    Py_ssize_t glen, alen;
    size_t len;
    unsigned char stack[KEY_ON_STACK], *key;
    uint32_t h;

    g = PyUnicode_AsUTF8AndSize(group, &glen);
    if (g == NULL) {
        goto no_utf8;
    }
    a = PyUnicode_AsUTF8AndSize(actor, &alen);
    if (a == NULL) {
        goto no_utf8;
    }
    len = (size_t)glen + 1 + (size_t)alen;
    key = len <= sizeof(stack) ? stack : (unsigned char *)PyMem_Malloc(len);
    if (key == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(key, g, (size_t)glen);
    key[glen] = ':';
    memcpy(key + glen + 1, a, (size_t)alen);
    h = murmur3_32(key, len, 0);
    if (key != stack) {
        PyMem_Free(key);
    }
    return (long)(h % BUCKETS) + 1;

no_utf8:
    if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* --- Evaluator -------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *rows;        /* dict: flag -> row, the state table's store */
    PyObject *unknown;     /* flag -> bool: a flag with no row */
    PyObject *slow;        /* the pure-Python evaluator: every uncommon call */
    PyObject *bucket_into; /* (split, actor) -> bucket, remembered: a string UTF-8 cannot carry */
    vectorcallfunc vectorcall;
} EvaluatorObject;

static PyObject *
split_answer(EvaluatorObject *self, PyObject *split, PyObject *actor)
{
    PyObject *group = PyTuple_GET_ITEM(split, 0);
    PyObject *percentage = PyTuple_GET_ITEM(split, 1);
    PyObject *buckets = PyTuple_GET_ITEM(split, 2);
    PyObject *found, *value, *args[2];
    long bucket;
    double limit;

    found = PyDict_GetItemWithError(buckets, actor); /* borrowed */
    if (found != NULL) {
        bucket = PyLong_AsLong(found);
        if (bucket == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    else {
        if (PyErr_Occurred()) {
            return NULL;
        }
        bucket = PyUnicode_Check(group) ? bucket_of(group, actor) : 0;
        if (bucket < 0) {
            return NULL;
        }
        if (bucket == 0) { /* no UTF-8 form: Python buckets it (and remembers it) */
            args[0] = split;
            args[1] = actor;
            value = PyObject_Vectorcall(self->bucket_into, args, 2, NULL);
            if (value == NULL) {
                return NULL;
            }
            bucket = PyLong_AsLong(value);
            Py_DECREF(value);
            if (bucket == -1 && PyErr_Occurred()) {
                return NULL;
            }
        }
        else {
            if (PyDict_GET_SIZE(buckets) >= BUCKETS_KEPT) {
                PyDict_Clear(buckets);
            }
            value = PyLong_FromLong(bucket);
            if (value == NULL) {
                return NULL;
            }
            if (PyDict_SetItem(buckets, actor, value) < 0) {
                Py_DECREF(value);
                return NULL;
            }
            Py_DECREF(value);
        }
    }
    limit = PyFloat_CheckExact(percentage) ? PyFloat_AS_DOUBLE(percentage) : PyFloat_AsDouble(percentage);
    if (limit == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    return PyBool_FromLong((double)bucket <= limit);
}

static PyObject *
evaluator_vectorcall(EvaluatorObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *flag, *actor, *row, *constant, *split;

    if (kwnames != NULL || nargs < 1 || nargs > 2) {
        return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
    }
    flag = args[0];
    actor = nargs == 2 ? args[1] : Py_None;
    row = PyDict_GetItemWithError(self->rows, flag); /* borrowed; raises on an unhashable flag */
    if (row == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        return PyObject_CallOneArg(self->unknown, flag);
    }
    if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) <= ROW_SPLIT) {
        return PyObject_Vectorcall(self->slow, args, nargsf, NULL);
    }
    constant = PyTuple_GET_ITEM(row, ROW_CONSTANT);
    if (constant != Py_None) {
        return Py_NewRef(constant);
    }
    split = PyTuple_GET_ITEM(row, ROW_SPLIT);
    if (split != Py_None && PyUnicode_CheckExact(actor) && PyTuple_CheckExact(split) &&
        PyTuple_GET_SIZE(split) == 3 && PyDict_CheckExact(PyTuple_GET_ITEM(split, 2))) {
        /* The row is held while the split is read: a write may replace it in the table. */
        PyObject *answer;

        Py_INCREF(row);
        answer = split_answer(self, split, actor);
        Py_DECREF(row);
        return answer;
    }
    Py_INCREF(row);
    {
        PyObject *answer = PyObject_CallOneArg(PyTuple_GET_ITEM(row, ROW_COMPILED), actor);

        Py_DECREF(row);
        return answer;
    }
}

static PyObject *
evaluator_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"rows", "unknown", "slow", "bucket_into", NULL};
    PyObject *rows, *unknown, *slow, *bucket_into;
    EvaluatorObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOO:Evaluator", keywords, &PyDict_Type, &rows,
                                     &unknown, &slow, &bucket_into)) {
        return NULL;
    }
    if (!PyCallable_Check(unknown) || !PyCallable_Check(slow) || !PyCallable_Check(bucket_into)) {
        PyErr_SetString(PyExc_TypeError, "unknown, slow and bucket_into are callables");
        return NULL;
    }
    self = (EvaluatorObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->rows = Py_NewRef(rows);
    self->unknown = Py_NewRef(unknown);
    self->slow = Py_NewRef(slow);
    self->bucket_into = Py_NewRef(bucket_into);
    self->vectorcall = (vectorcallfunc)evaluator_vectorcall;
    return (PyObject *)self;
}

static int
evaluator_traverse(EvaluatorObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* a heap type: its instances hold it */
    Py_VISIT(self->rows);
    Py_VISIT(self->unknown);
    Py_VISIT(self->slow);
    Py_VISIT(self->bucket_into);
    return 0;
}

static int
evaluator_clear(EvaluatorObject *self)
{
    Py_CLEAR(self->rows);
    Py_CLEAR(self->unknown);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->bucket_into);
    return 0;
}

static void
evaluator_dealloc(EvaluatorObject *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    evaluator_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMemberDef evaluator_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(EvaluatorObject, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot evaluator_slots[] = {
    {Py_tp_doc, (void *)PyDoc_STR(
        "Evaluator(rows, unknown, slow, bucket_into)\n--\n\n"
        "Called as enabled(flag, actor=None): the flag's value for the actor, read from rows (the "
        "flags server's state table); uncommon calls go to slow.")},
    {Py_tp_new, (void *)evaluator_new},
    {Py_tp_dealloc, (void *)evaluator_dealloc},
    {Py_tp_traverse, (void *)evaluator_traverse},
    {Py_tp_clear, (void *)evaluator_clear},
    {Py_tp_call, (void *)PyVectorcall_Call},
    {Py_tp_members, (void *)evaluator_members},
    {0, NULL},
};

static PyType_Spec evaluator_spec = {
    .name = "daemon.flags._speedups.Evaluator",
    .basicsize = sizeof(EvaluatorObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = evaluator_slots,
};

/* --- the module ------------------------------------------------------------------------------- */

static PyObject *
normalized(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    long bucket;

    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "normalized(group_id, actor): two str");
        return NULL;
    }
    bucket = bucket_of(args[0], args[1]);
    if (bucket < 0) {
        return NULL;
    }
    if (bucket == 0) {
        PyErr_SetString(PyExc_ValueError, "a string with no UTF-8 form (a lone surrogate)");
        return NULL;
    }
    return PyLong_FromLong(bucket);
}

static PyMethodDef module_methods[] = {
    {"normalized", (PyCFunction)(void (*)(void))normalized, METH_FASTCALL,
     "normalized($module, group_id, actor, /)\n--\n\n"
     "Unleash's normalized value of the actor under the group id, in 1..100 (murmur3 in C); "
     "ValueError for a string with no UTF-8 form."},
    {NULL, NULL, 0, NULL},
};

static int
module_exec(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &evaluator_spec, NULL);
    int failed;

    if (type == NULL) {
        return -1;
    }
    failed = PyModule_AddType(module, (PyTypeObject *)type) < 0;
    Py_DECREF(type);
    return failed ? -1 : 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "daemon.flags._speedups",
    .m_doc = PyDoc_STR("The flags' evaluation, in C (see daemon/flags/_speedups.c)."),
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
