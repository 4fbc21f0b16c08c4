/* The hot paths of tables, in C: what CPython 3.11 cannot do fast enough in a Python method.
 *
 * A table operation is a dictionary operation plus, for a write, the owner check. In a Python
 * method, entering and leaving the method costs as much as the dict operation itself, which put
 * `insert`, `update_counter` and `lookup` over their targets (docs/performance.md). Here they are
 * C methods of `TableCore`, the base of every `Table`: no Python frame at all.
 *
 * This file holds only the common case of each operation. Anything else -- a list of rows, a row
 * too short for the key, an unhashable key, a counter op other than a plain int, a denied caller --
 * goes to the Python code in supervisor/tables/, which words every error. So each behaviour has
 * one implementation, and the C code never needs to know the error messages. The methods called
 * back by name are CALLBACKS (the stub lists them as a Protocol; a test checks every table class
 * defines them), and supervisor/tables/_pycore.py is this file's pure-Python twin.
 *
 * The module has no global state: the interned names, the running-tasks mapping and the types live
 * in module state (multi-phase init, heap types). Each table keeps a reference to its module and a
 * pointer to that state, taken when it is created: the defining-class calling convention (PEP 573)
 * would reach it too, but CPython 3.11 does not specialise those calls, and it made insert 40%
 * slower (bench/bench_tables.py).
 *
 * `GuardedGetter` is a reader built on a table's `getter()`: the row, unless a check on one of its
 * elements rejects it (the registry's "only while the owner is alive").
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    /* asyncio's own "loop -> the task running on it now" mapping (a dict on 3.11 to 3.13), given by
     * supervisor/tables/_core.py through use_running_tasks(). */
    PyObject *running_tasks;
    PyObject *str_deny;                   /* the callbacks, by name (CALLBACKS) */
    PyObject *str_get_call;
    PyObject *str_insert_unchecked;
    PyObject *str_update_counter_general; /* "_update_counter" */
    PyObject *str_update_counter_call;
    PyObject *str_insert;                 /* operation names given to _deny */
    PyObject *str_update_counter;
    PyObject *core_type;
    PyObject *guarded_type;
} ModuleState;

static struct PyModuleDef speedups_module;

typedef struct {
    PyObject_HEAD
    PyObject *module;     /* this module: it owns *state */
    ModuleState *state;
    PyObject *rows;       /* dict: key -> row (set types), key -> list of rows (bags) */
    PyObject *loop;       /* the owner's event loop */
    PyObject *owner_task; /* the owner's task: the one allowed to write */
    Py_ssize_t keypos;
} CoreObject;

/* --- the owner check ------------------------------------------------------------------------ */

/* 1 if the task running now on the owner's loop is not the owner, 0 if it is, -1 on error. */
static int
caller_is_stranger(ModuleState *state, CoreObject *self)
{
    PyObject *task, *running_tasks = state->running_tasks;
    int stranger;

    if (self->loop == NULL || running_tasks == NULL) {
        return 1;
    }
    if (PyDict_CheckExact(running_tasks)) {
        task = PyDict_GetItemWithError(running_tasks, self->loop); /* borrowed */
        if (task == NULL) {
            return PyErr_Occurred() ? -1 : 1;
        }
        return task != self->owner_task;
    }
    task = PyObject_GetItem(running_tasks, self->loop);
    if (task == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return -1;
        }
        PyErr_Clear();
        return 1;
    }
    stranger = task != self->owner_task;
    Py_DECREF(task);
    return stranger;
}

/* 0 if the caller may write; else -1 with the exception self._deny(operation) raised. */
static int
check_owner(ModuleState *state, CoreObject *self, PyObject *operation)
{
    PyObject *result;
    int stranger = caller_is_stranger(state, self);

    if (stranger <= 0) {
        return stranger;
    }
    result = PyObject_CallMethodOneArg((PyObject *)self, state->str_deny, operation);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result); /* _deny always raises; if an override returns, the write goes on */
    return 0;
}

/* The store, or NULL with AttributeError before __init__ has set it. */
static PyObject *
store_of(CoreObject *self)
{
    if (self->rows == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_rows");
    }
    return self->rows;
}

/* Clears a TypeError (an unhashable key: in no table) and returns 0; -1 for any other error. */
static int
clear_type_error(void)
{
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
}

/* self.<name>(*args, **kwargs) for a call this file leaves to the Python method. */
static PyObject *
call_python(CoreObject *self, PyObject *name, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames)
{
    Py_ssize_t total = nargs + (kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames));
    PyObject *small[8], **stack = small, *result;

    if (total + 1 > (Py_ssize_t)Py_ARRAY_LENGTH(small)) {
        stack = PyMem_New(PyObject *, total + 1);
        if (stack == NULL) {
            return PyErr_NoMemory();
        }
    }
    stack[0] = (PyObject *)self;
    if (total > 0) {
        memcpy(stack + 1, args, total * sizeof(PyObject *));
    }
    result = PyObject_VectorcallMethod(name, stack, 1 + nargs, kwnames);
    if (stack != small) {
        PyMem_Free(stack);
    }
    return result;
}

/* --- set reads ------------------------------------------------------------------------------ */

/* lookup(key) -> [row] or [] */
static PyObject *
core_set_lookup(CoreObject *self, PyObject *key)
{
    PyObject *rows = store_of(self), *row, *found;

    if (rows == NULL) {
        return NULL;
    }
    row = PyDict_GetItemWithError(rows, key); /* borrowed */
    if (row == NULL) {
        if (PyErr_Occurred() && clear_type_error() < 0) {
            return NULL;
        }
        return PyList_New(0);
    }
    /* Owned at once: allocating the list may run the GC, whose finalizers may change the store. */
    Py_INCREF(row);
    found = PyList_New(1);
    if (found == NULL) {
        Py_DECREF(row);
        return NULL;
    }
    PyList_SET_ITEM(found, 0, row); /* steals the reference */
    return found;
}

/* get(key, default=None) -> row or default */
static PyObject *
core_set_get(CoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *rows, *row, *fallback;

    if (kwnames != NULL || nargs < 1 || nargs > 2) {
        /* `default=` by name, or a wrong call: the Python signature sorts it out */
        return call_python(self, self->state->str_get_call, args, nargs, kwnames);
    }
    rows = store_of(self);
    if (rows == NULL) {
        return NULL;
    }
    fallback = nargs == 2 ? args[1] : Py_None;
    row = PyDict_GetItemWithError(rows, args[0]); /* borrowed */
    if (row == NULL) {
        if (PyErr_Occurred() && clear_type_error() < 0) {
            return NULL;
        }
        row = fallback;
    }
    Py_INCREF(row);
    return row;
}

/* --- set writes ----------------------------------------------------------------------------- */

/* insert(rows): one plain tuple stored here; anything else through self._insert_unchecked. */
static PyObject *
set_insert(CoreObject *self, PyObject *rows, int checked)
{
    ModuleState *state = self->state;
    PyObject *store;

    if (checked && check_owner(state, self, state->str_insert) < 0) {
        return NULL;
    }
    store = store_of(self);
    if (store == NULL) {
        return NULL;
    }
    if (PyTuple_CheckExact(rows) && self->keypos < PyTuple_GET_SIZE(rows)) {
        if (PyDict_SetItem(store, PyTuple_GET_ITEM(rows, self->keypos), rows) == 0) {
            Py_RETURN_NONE;
        }
        if (clear_type_error() < 0) {
            return NULL;
        }
        /* an unhashable key: the Python path raises the table's error for it */
    }
    return PyObject_CallMethodOneArg((PyObject *)self, state->str_insert_unchecked, rows);
}

static PyObject *
core_set_insert(CoreObject *self, PyObject *rows)
{
    return set_insert(self, rows, 1);
}

static PyObject *
core_set_insert_public(CoreObject *self, PyObject *rows)
{
    return set_insert(self, rows, 0);
}

/* update_counter(key, op, default=None): a plain int added to a (key, int) row here; anything
 * else through self._update_counter(key, op, default). */
static PyObject *
set_update_counter(CoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                   int checked)
{
    ModuleState *state = self->state;
    PyObject *store, *key, *op, *row, *sum, *updated;

    if (kwnames != NULL || nargs < 2 || nargs > 3) {
        /* `default=` by name, or a wrong call: the whole Python method, owner check included */
        return call_python(self, state->str_update_counter_call, args, nargs, kwnames);
    }
    if (checked && check_owner(state, self, state->str_update_counter) < 0) {
        return NULL;
    }
    store = store_of(self);
    if (store == NULL) {
        return NULL;
    }
    key = args[0];
    op = args[1];
    if (PyLong_CheckExact(op) && self->keypos == 0) {
        row = PyDict_GetItemWithError(store, key); /* borrowed */
        if (row == NULL) {
            if (PyErr_Occurred() && clear_type_error() < 0) {
                return NULL;
            }
        }
        else if (PyTuple_CheckExact(row) && PyTuple_GET_SIZE(row) == 2 &&
                 PyLong_CheckExact(PyTuple_GET_ITEM(row, 1))) {
            /* Owned at once: the sum and the new row are allocations, which may run the GC, whose
             * finalizers may replace or delete the row in the store. */
            Py_INCREF(row);
            sum = PyNumber_Add(PyTuple_GET_ITEM(row, 1), op);
            if (sum == NULL) {
                Py_DECREF(row);
                return NULL;
            }
            updated = PyTuple_Pack(2, PyTuple_GET_ITEM(row, 0), sum);
            Py_DECREF(row);
            if (updated == NULL || PyDict_SetItem(store, key, updated) < 0) {
                Py_XDECREF(updated);
                Py_DECREF(sum);
                return NULL;
            }
            Py_DECREF(updated);
            return sum;
        }
    }
    return PyObject_VectorcallMethod(
        state->str_update_counter_general,
        (PyObject *[]){(PyObject *)self, key, op, nargs == 3 ? args[2] : Py_None}, 4, NULL);
}

static PyObject *
core_set_update_counter(CoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return set_update_counter(self, args, nargs, kwnames, 1);
}

static PyObject *
core_set_update_counter_public(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    return set_update_counter(self, args, nargs, kwnames, 0);
}

/* _caller_is_owner() -> bool: the owner check alone, for tests and for the Python paths */
static PyObject *
core_caller_is_owner(CoreObject *self, PyObject *Py_UNUSED(ignored))
{
    int stranger = caller_is_stranger(self->state, self);

    if (stranger < 0) {
        return NULL;
    }
    return PyBool_FromLong(!stranger);
}

/* --- the type ------------------------------------------------------------------------------- */

/* A new table: its type's module, and that module's state, kept for the life of the table. */
static PyObject *
core_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *module = PyType_GetModuleByDef(type, &speedups_module); /* borrowed */
    CoreObject *self;

    if (module == NULL) {
        return NULL;
    }
    self = (CoreObject *)PyType_GenericNew(type, args, kwds);
    if (self == NULL) {
        return NULL;
    }
    self->module = Py_NewRef(module);
    self->state = (ModuleState *)PyModule_GetState(module);
    return (PyObject *)self;
}

static int
core_traverse(CoreObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* a heap type: its instances hold it */
    Py_VISIT(self->module);
    Py_VISIT(self->rows);
    Py_VISIT(self->loop);
    Py_VISIT(self->owner_task);
    return 0;
}

static int
core_clear(CoreObject *self)
{
    /* The module stays until dealloc: a method may still run on a cleared table, and needs the
     * state (the GC calls tp_clear to break cycles, not to end the object). */
    Py_CLEAR(self->rows);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->owner_task);
    return 0;
}

static void
core_dealloc(CoreObject *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    core_clear(self);
    Py_CLEAR(self->module);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
core_get_rows(CoreObject *self, void *Py_UNUSED(closure))
{
    PyObject *rows = store_of(self);

    Py_XINCREF(rows);
    return rows;
}

/* The store is always a plain dict: the C paths rely on it. */
static int
core_set_rows(CoreObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value != NULL && !PyDict_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "a table's store is a dict, not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_XINCREF(value);
    Py_XSETREF(self->rows, value);
    return 0;
}

static PyGetSetDef core_getset[] = {
    {"_rows", (getter)core_get_rows, (setter)core_set_rows, "The store: a dict.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef core_members[] = {
    {"_loop", T_OBJECT_EX, offsetof(CoreObject, loop), 0, "The owner's event loop."},
    {"_owner_task", T_OBJECT_EX, offsetof(CoreObject, owner_task), 0, "The owner's task."},
    {"_keypos", T_PYSSIZET, offsetof(CoreObject, keypos), 0, "The key's position in a row."},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef core_methods[] = {
    {"_set_lookup", (PyCFunction)core_set_lookup, METH_O,
     "_set_lookup($self, key, /)\n--\n\nThe rows under key on a set: [row] or []."},
    {"_set_get", (PyCFunction)(void (*)(void))core_set_get, METH_FASTCALL | METH_KEYWORDS,
     "_set_get($self, key, default=None)\n--\n\nThe row under key on a set, or default."},
    {"_set_insert", (PyCFunction)core_set_insert, METH_O,
     "_set_insert($self, rows, /)\n--\n\n"
     "Insert a row or a list of rows (protected or private set: the owner check first)."},
    {"_set_insert_public", (PyCFunction)core_set_insert_public, METH_O,
     "_set_insert_public($self, rows, /)\n--\n\nInsert a row or a list of rows (public set)."},
    {"_set_update_counter", (PyCFunction)(void (*)(void))core_set_update_counter,
     METH_FASTCALL | METH_KEYWORDS,
     "_set_update_counter($self, key, op, default=None)\n--\n\n"
     "Add to integer elements (protected or private set: the owner check first)."},
    {"_set_update_counter_public", (PyCFunction)(void (*)(void))core_set_update_counter_public,
     METH_FASTCALL | METH_KEYWORDS,
     "_set_update_counter_public($self, key, op, default=None)\n--\n\n"
     "Add to integer elements (public set)."},
    {"_caller_is_owner", (PyCFunction)core_caller_is_owner, METH_NOARGS,
     "_caller_is_owner($self, /)\n--\n\nWhether the task running on the owner's loop is the owner."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot core_slots[] = {
    {Py_tp_doc, (void *)PyDoc_STR("The C part of a Table: its store, owner, and hot operations.")},
    {Py_tp_new, (void *)core_new},
    {Py_tp_dealloc, (void *)core_dealloc},
    {Py_tp_traverse, (void *)core_traverse},
    {Py_tp_clear, (void *)core_clear},
    {Py_tp_methods, (void *)core_methods},
    {Py_tp_members, (void *)core_members},
    {Py_tp_getset, (void *)core_getset},
    {0, NULL},
};

static PyType_Spec core_spec = {
    .name = "supervisor._speedups.TableCore",
    .basicsize = sizeof(CoreObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = core_slots,
};

/* --- GuardedGetter -------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *get;       /* key -> row or None */
    PyObject *reject;    /* element -> truthy to reject the row */
    PyObject *on_reject; /* key -> anything, called on a miss or a rejected row (or None) */
    Py_ssize_t position; /* the element given to reject */
    vectorcallfunc vectorcall;
} GuardedObject;

static PyObject *
guarded_miss(GuardedObject *self, PyObject *key)
{
    PyObject *result;

    if (self->on_reject != Py_None) {
        result = PyObject_CallOneArg(self->on_reject, key);
        if (result == NULL) {
            return NULL;
        }
        Py_DECREF(result);
    }
    Py_RETURN_NONE;
}

static PyObject *
guarded_vectorcall(GuardedObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *row, *element, *verdict;
    int rejected;

    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a guarded getter takes exactly one argument: the key");
        return NULL;
    }
    row = PyObject_Vectorcall(self->get, args, 1, NULL);
    if (row == NULL) {
        return NULL;
    }
    if (row == Py_None) {
        Py_DECREF(row);
        return guarded_miss(self, args[0]);
    }
    if (PyTuple_Check(row) && self->position < PyTuple_GET_SIZE(row)) {
        element = PyTuple_GET_ITEM(row, self->position);
        Py_INCREF(element);
    }
    else {
        element = PySequence_GetItem(row, self->position);
        if (element == NULL) {
            Py_DECREF(row);
            return NULL;
        }
    }
    verdict = PyObject_Vectorcall(self->reject, &element, 1, NULL);
    Py_DECREF(element);
    if (verdict == NULL) {
        Py_DECREF(row);
        return NULL;
    }
    rejected = verdict == Py_False ? 0 : verdict == Py_True ? 1 : PyObject_IsTrue(verdict);
    Py_DECREF(verdict);
    if (rejected == 0) {
        return row;
    }
    Py_DECREF(row);
    if (rejected < 0) {
        return NULL;
    }
    return guarded_miss(self, args[0]);
}

static PyObject *
guarded_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"get", "reject", "position", "on_reject", NULL};
    PyObject *get, *reject, *on_reject = Py_None;
    Py_ssize_t position;
    GuardedObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOn|O:GuardedGetter", keywords, &get, &reject,
                                     &position, &on_reject)) {
        return NULL;
    }
    if (position < 0) {
        PyErr_Format(PyExc_ValueError, "position is an index >= 0, not %zd", position);
        return NULL;
    }
    if (!PyCallable_Check(get) || !PyCallable_Check(reject) ||
        (on_reject != Py_None && !PyCallable_Check(on_reject))) {
        PyErr_SetString(PyExc_TypeError, "get, reject and on_reject (unless None) are callables");
        return NULL;
    }
    self = (GuardedObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->get = Py_NewRef(get);
    self->reject = Py_NewRef(reject);
    self->on_reject = Py_NewRef(on_reject);
    self->position = position;
    self->vectorcall = (vectorcallfunc)guarded_vectorcall;
    return (PyObject *)self;
}

static int
guarded_traverse(GuardedObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* a heap type: its instances hold it */
    Py_VISIT(self->get);
    Py_VISIT(self->reject);
    Py_VISIT(self->on_reject);
    return 0;
}

static int
guarded_clear(GuardedObject *self)
{
    Py_CLEAR(self->get);
    Py_CLEAR(self->reject);
    Py_CLEAR(self->on_reject);
    return 0;
}

static void
guarded_dealloc(GuardedObject *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    guarded_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMemberDef guarded_members[] = {
    {"position", T_PYSSIZET, offsetof(GuardedObject, position), READONLY,
     "The element given to reject."},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(GuardedObject, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot guarded_slots[] = {
    {Py_tp_doc, (void *)PyDoc_STR(
        "GuardedGetter(get, reject, position, on_reject=None)\n--\n\n"
        "Called with a key: get(key), unless that is None or reject(row[position]) is true; then "
        "on_reject(key) is called and the answer is None.")},
    {Py_tp_new, (void *)guarded_new},
    {Py_tp_dealloc, (void *)guarded_dealloc},
    {Py_tp_traverse, (void *)guarded_traverse},
    {Py_tp_clear, (void *)guarded_clear},
    {Py_tp_call, (void *)PyVectorcall_Call},
    {Py_tp_members, (void *)guarded_members},
    {0, NULL},
};

static PyType_Spec guarded_spec = {
    .name = "supervisor._speedups.GuardedGetter",
    .basicsize = sizeof(GuardedObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = guarded_slots,
};

/* --- the module ----------------------------------------------------------------------------- */

static PyObject *
use_running_tasks(PyObject *module, PyObject *mapping)
{
    ModuleState *state = (ModuleState *)PyModule_GetState(module);

    if (!PyMapping_Check(mapping)) {
        PyErr_SetString(PyExc_TypeError, "running tasks: a mapping loop -> task");
        return NULL;
    }
    Py_INCREF(mapping);
    Py_XSETREF(state->running_tasks, mapping);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"use_running_tasks", (PyCFunction)use_running_tasks, METH_O,
     "use_running_tasks($module, mapping, /)\n--\n\n"
     "Set the mapping loop -> running task that the owner check reads."},
    {NULL, NULL, 0, NULL},
};

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    ModuleState *state = (ModuleState *)PyModule_GetState(module);

    Py_VISIT(state->running_tasks);
    Py_VISIT(state->core_type);
    Py_VISIT(state->guarded_type);
    return 0;
}

static int
module_clear(PyObject *module)
{
    ModuleState *state = (ModuleState *)PyModule_GetState(module);

    Py_CLEAR(state->running_tasks);
    Py_CLEAR(state->str_deny);
    Py_CLEAR(state->str_get_call);
    Py_CLEAR(state->str_insert_unchecked);
    Py_CLEAR(state->str_update_counter_general);
    Py_CLEAR(state->str_update_counter_call);
    Py_CLEAR(state->str_insert);
    Py_CLEAR(state->str_update_counter);
    Py_CLEAR(state->core_type);
    Py_CLEAR(state->guarded_type);
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

static int
intern(PyObject **target, const char *text)
{
    *target = PyUnicode_InternFromString(text);
    return *target == NULL ? -1 : 0;
}

static int
module_exec(PyObject *module)
{
    ModuleState *state = (ModuleState *)PyModule_GetState(module);
    PyObject *callbacks;
    int failed;

    if (intern(&state->str_deny, "_deny") < 0 || intern(&state->str_get_call, "_get_call") < 0 ||
        intern(&state->str_insert_unchecked, "_insert_unchecked") < 0 ||
        intern(&state->str_update_counter_general, "_update_counter") < 0 ||
        intern(&state->str_update_counter_call, "_update_counter_call") < 0 ||
        intern(&state->str_insert, "insert") < 0 ||
        intern(&state->str_update_counter, "update_counter") < 0) {
        return -1;
    }
    state->core_type = PyType_FromModuleAndSpec(module, &core_spec, NULL);
    if (state->core_type == NULL || PyModule_AddType(module, (PyTypeObject *)state->core_type) < 0) {
        return -1;
    }
    state->guarded_type = PyType_FromModuleAndSpec(module, &guarded_spec, NULL);
    if (state->guarded_type == NULL ||
        PyModule_AddType(module, (PyTypeObject *)state->guarded_type) < 0) {
        return -1;
    }
    /* The table methods this file calls back by name, in the order of the stub's Protocol. */
    callbacks = PyTuple_Pack(5, state->str_deny, state->str_get_call, state->str_insert_unchecked,
                             state->str_update_counter_general, state->str_update_counter_call);
    if (callbacks == NULL) {
        return -1;
    }
    failed = PyModule_AddObjectRef(module, "CALLBACKS", callbacks) < 0;
    Py_DECREF(callbacks);
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
    .m_name = "supervisor._speedups",
    .m_doc = PyDoc_STR("The hot paths of tables, in C (see supervisor/_speedups.c)."),
    .m_size = sizeof(ModuleState),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
