/* daemon._context_speedups: the hot paths of the error context and of spans, in C.
 *
 * One job: the common case of a `with_context` block's enter and exit, and of a span's start and
 * end (daemon/context.py, daemon/spans/api.py), which run in the caller's task for every request;
 * and the envelope hook's capture, enter and exit (daemon/spans/envelope.py), which run at every
 * call and cast while the span server is up.
 * Everything else -- and every uncommon case of these (a context past its size limit, a span with
 * no span server, an orphan end, a listener on the span events, ...) -- is handed back to the
 * Python code passed in at configuration, which is also the pure-Python twin that
 * ARBORD_NO_EXTENSIONS=1 selects (daemon/context_core.py). The semantics are the twin's: the same
 * test suites run on both (the Makefile's TWIN_SUITES).
 *
 * No Python object is created here that Python did not describe: the ContextVars, the record types
 * and the slow paths are passed in by daemon/context.py (`configure_context`) and by
 * daemon/spans/api.py (`configure_spans`), once, at import. The records (`ErrorContext`,
 * `LiveSpan`) are Python classes with __slots__: their slots are written at the offsets their member
 * descriptors give, as the classes' own __init__ would.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Write `value` (a new reference, stolen) into the slot at `off` of `obj`. */
static inline void
slot_set(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

/* The offset of the __slots__ member `name` of `type` (its member descriptor's), or -1. */
static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) {
        return -1;
    }
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)
        || ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", type->tp_name, name);
        Py_DECREF(descr);
        return -1;
    }
    Py_ssize_t offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return offset;
}

static int
set_type(PyObject **target, PyObject *value, const char *what)
{
    if (!PyType_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be a type", what);
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(*target, value);
    return 0;
}

static int
set_callable(PyObject **target, PyObject *value, const char *what)
{
    if (!PyCallable_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable", what);
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(*target, value);
    return 0;
}

/* ---- the error context ------------------------------------------------------------------------ */

typedef struct {
    PyObject *error_var;      /* ContextVar[ErrorContext] */
    PyObject *span_var;       /* ContextVar[SpanRef | None] */
    PyObject *context_type;   /* ErrorContext */
    PyObject *meta_type;      /* _Meta */
    PyObject *policy_type;    /* ContextPolicy */
    PyObject *merged;         /* _merged(parent, fields) -> ErrorContext: the uncommon case */
    PyObject *attach;         /* _attach(exc, ctx): an error leaving the block carries the context */
    PyObject *root;           /* the root ErrorContext: the variable's default, "nothing current" */
    Py_ssize_t off_fields, off_meta, off_policy, off_max_fields, off_operation;
} ContextConfig;

static ContextConfig ctx_config;

static int
context_ready(void)
{
    if (ctx_config.error_var == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "daemon._context_speedups: configure_context was not called");
        return 0;
    }
    return 1;
}

static PyObject *
configure_context(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"error_var", "span_var", "context_type", "meta_type", "policy_type",
                            "merged", "attach", "root", NULL};
    PyObject *error_var, *span_var, *context_type, *meta_type, *policy_type, *merged, *attach, *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!OOOOOO:configure_context", names,
                                     &PyContextVar_Type, &error_var, &PyContextVar_Type, &span_var,
                                     &context_type, &meta_type, &policy_type, &merged, &attach, &root)) {
        return NULL;
    }
    if (set_type(&ctx_config.context_type, context_type, "context_type") < 0
        || set_type(&ctx_config.meta_type, meta_type, "meta_type") < 0
        || set_type(&ctx_config.policy_type, policy_type, "policy_type") < 0
        || set_callable(&ctx_config.merged, merged, "merged") < 0
        || set_callable(&ctx_config.attach, attach, "attach") < 0) {
        return NULL;
    }
    if ((ctx_config.off_fields = slot_offset((PyTypeObject *)context_type, "_fields")) < 0
        || (ctx_config.off_meta = slot_offset((PyTypeObject *)context_type, "_meta")) < 0
        || (ctx_config.off_policy = slot_offset((PyTypeObject *)meta_type, "policy")) < 0
        || (ctx_config.off_max_fields = slot_offset((PyTypeObject *)policy_type, "max_fields")) < 0
        || (ctx_config.off_operation = slot_offset((PyTypeObject *)meta_type, "operation")) < 0) {
        return NULL;
    }
    if (!Py_IS_TYPE(root, (PyTypeObject *)context_type)) {
        PyErr_SetString(PyExc_TypeError, "root must be an instance of context_type");
        return NULL;
    }
    Py_INCREF(root);
    Py_XSETREF(ctx_config.root, root);
    Py_INCREF(span_var);
    Py_XSETREF(ctx_config.span_var, span_var);
    Py_INCREF(error_var);
    Py_XSETREF(ctx_config.error_var, error_var);
    Py_RETURN_NONE;
}

/* ContextBlock: the base of daemon.context.with_context. */
typedef struct {
    PyObject_HEAD
    PyObject *fields; /* dict: the keyword arguments */
    PyObject *token;  /* the ContextVar token while the block is entered, else NULL */
} ContextBlock;

static PyObject *
block_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes keyword arguments only", type->tp_name);
        return NULL;
    }
    ContextBlock *self = (ContextBlock *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->fields = kwargs != NULL ? PyDict_Copy(kwargs) : PyDict_New();
    if (self->fields == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* A static type: a heap subclass's own traverse and dealloc visit and release the type. */
static PyTypeObject ContextBlockType;

/* Calling the class (vectorcall): the fields straight from the keywords, with no tuple of
 * positional arguments and no intermediate dict (installed on a subclass by `fast_calls`). */
static PyObject *
block_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyTypeObject *cls = (PyTypeObject *)type;
    if (PyVectorcall_NARGS(nargsf) != 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes keyword arguments only", cls->tp_name);
        return NULL;
    }
    ContextBlock *self = (ContextBlock *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        return NULL;
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    self->fields = _PyDict_NewPresized(nkw);
    if (self->fields == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < nkw; k++) {
        if (PyDict_SetItem(self->fields, PyTuple_GET_ITEM(kwnames, k), args[k]) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    }
    return (PyObject *)self;
}

static PyObject *
fast_calls(PyObject *module, PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &ContextBlockType)) {
        PyErr_SetString(PyExc_TypeError, "fast_calls needs a subclass of ContextBlock");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    if (type->tp_new != block_new || type->tp_init != PyBaseObject_Type.tp_init) {
        PyErr_SetString(PyExc_TypeError, "fast_calls: the class overrides __new__ or __init__");
        return NULL;
    }
    type->tp_vectorcall = block_vectorcall;
    Py_RETURN_NONE;
}

static int
block_traverse(ContextBlock *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fields);
    Py_VISIT(self->token);
    return 0;
}

static int
block_clear(ContextBlock *self)
{
    Py_CLEAR(self->fields);
    Py_CLEAR(self->token);
    return 0;
}

static void
block_dealloc(ContextBlock *self)
{
    PyObject_GC_UnTrack(self);
    block_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Whether `key` (a str) is an identifier: ASCII ones checked here (`[A-Za-z_][A-Za-z0-9_]*`, the
 * ASCII identifiers exactly), others by str.isidentifier. */
static int
is_identifier(PyObject *key)
{
    if (!PyUnicode_IS_ASCII(key)) {
        return PyUnicode_IsIdentifier(key);
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(key);
    const Py_UCS1 *text = PyUnicode_1BYTE_DATA(key);
    if (length == 0 || (text[0] >= '0' && text[0] <= '9')) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS1 c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* The common case of a merge: the keys are identifiers and the context stays within max_fields.
 * Returns a new ErrorContext, or NULL with no error set when the Python path must decide. */
static PyObject *
merge_fast(PyObject *parent, PyObject *fields)
{
    ContextConfig *c = &ctx_config;
    if (Py_TYPE(parent) != (PyTypeObject *)c->context_type) {
        return NULL;
    }
    PyObject *parent_fields = SLOT(parent, c->off_fields);
    PyObject *meta = SLOT(parent, c->off_meta);
    if (parent_fields == NULL || !PyDict_CheckExact(parent_fields) || meta == NULL
        || Py_TYPE(meta) != (PyTypeObject *)c->meta_type) {
        return NULL;
    }
    PyObject *policy = SLOT(meta, c->off_policy);
    if (policy == NULL || Py_TYPE(policy) != (PyTypeObject *)c->policy_type) {
        return NULL;
    }
    PyObject *max_fields = SLOT(policy, c->off_max_fields);
    if (max_fields == NULL || !PyLong_CheckExact(max_fields)) {
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(max_fields);
    if (limit == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return NULL;
    }
    if (PyDict_GET_SIZE(parent_fields) + PyDict_GET_SIZE(fields) > limit) {
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(fields, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !is_identifier(key)) {
            return NULL;
        }
    }
    PyObject *merged = PyDict_Copy(parent_fields);
    if (merged == NULL) {
        return NULL;
    }
    if (PyDict_Update(merged, fields) < 0) {
        Py_DECREF(merged);
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)c->context_type;
    PyObject *ctx = type->tp_alloc(type, 0);
    if (ctx == NULL) {
        Py_DECREF(merged);
        return NULL;
    }
    slot_set(ctx, c->off_fields, merged);
    Py_INCREF(meta);
    slot_set(ctx, c->off_meta, meta);
    return ctx;
}

static PyObject *
block_enter(ContextBlock *self, PyObject *unused)
{
    if (!context_ready()) {
        return NULL;
    }
    PyObject *parent;
    if (PyContextVar_Get(ctx_config.error_var, NULL, &parent) < 0) {
        return NULL;
    }
    if (parent == NULL) {
        PyErr_SetString(PyExc_LookupError, "the error context variable has no value");
        return NULL;
    }
    PyObject *ctx = merge_fast(parent, self->fields);
    if (ctx == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(parent);
            return NULL;
        }
        PyObject *call_args[2] = {parent, self->fields};
        ctx = PyObject_Vectorcall(ctx_config.merged, call_args, 2, NULL);
    }
    Py_DECREF(parent);
    if (ctx == NULL) {
        return NULL;
    }
    PyObject *token = PyContextVar_Set(ctx_config.error_var, ctx);
    if (token == NULL) {
        Py_DECREF(ctx);
        return NULL;
    }
    Py_XSETREF(self->token, token);
    return ctx;
}

static PyObject *
block_exit(ContextBlock *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!context_ready()) {
        return NULL;
    }
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ takes 3 arguments, not %zd", nargs);
        return NULL;
    }
    PyObject *token = self->token;
    if (token == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "with_context: __exit__ without __enter__");
        return NULL;
    }
    if (args[1] != Py_None) {
        PyObject *ctx;
        if (PyContextVar_Get(ctx_config.error_var, NULL, &ctx) < 0) {
            return NULL;
        }
        PyObject *call_args[2] = {args[1], ctx};
        PyObject *done = PyObject_Vectorcall(ctx_config.attach, call_args, 2, NULL);
        Py_XDECREF(ctx);
        if (done == NULL) {
            return NULL;
        }
        Py_DECREF(done);
    }
    self->token = NULL;
    int failed = PyContextVar_Reset(ctx_config.error_var, token);
    Py_DECREF(token);
    if (failed < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef block_methods[] = {
    {"__enter__", (PyCFunction)block_enter, METH_NOARGS,
     "Enter the block: merge the fields into the current error context and make it current."},
    {"__exit__", (PyCFunction)(void (*)(void))block_exit, METH_FASTCALL,
     "Leave the block: an error leaving it carries the context; the previous context is put back."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef block_members[] = {
    {"_fields", T_OBJECT_EX, offsetof(ContextBlock, fields), READONLY, "The block's fields."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject ContextBlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "daemon._context_speedups.ContextBlock",
    .tp_basicsize = sizeof(ContextBlock),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "ContextBlock(**fields): the C base of daemon.context.with_context (enter and exit).",
    .tp_new = block_new,
    .tp_dealloc = (destructor)block_dealloc,
    .tp_traverse = (traverseproc)block_traverse,
    .tp_clear = (inquiry)block_clear,
    .tp_methods = block_methods,
    .tp_members = block_members,
};

/* ---- across mailboxes: the envelope hook's three parts ---------------------------------------- */

/* capture_carried(): in the sender's task at every call and cast while the hook is installed. */
static PyObject *
carried_capture(PyObject *module, PyObject *unused)
{
    if (!context_ready()) {
        return NULL;
    }
    PyObject *span, *ctx;
    if (PyContextVar_Get(ctx_config.span_var, NULL, &span) < 0) {
        return NULL;
    }
    if (span == NULL) { /* the variable has a default (None): only a bad configuration gets here */
        span = Py_NewRef(Py_None);
    }
    if (PyContextVar_Get(ctx_config.error_var, NULL, &ctx) < 0) {
        Py_DECREF(span);
        return NULL;
    }
    if (ctx == NULL) {
        Py_DECREF(span);
        PyErr_SetString(PyExc_LookupError, "the error context variable has no value");
        return NULL;
    }
    if (span == Py_None) {
        /* Nothing current: usually the root itself (one pointer test); else an empty context that
         * is not the root (a context_policy block): no field and no operation. */
        int empty = ctx == ctx_config.root;
        if (!empty && Py_IS_TYPE(ctx, (PyTypeObject *)ctx_config.context_type)) {
            PyObject *fields = SLOT(ctx, ctx_config.off_fields);
            PyObject *meta = SLOT(ctx, ctx_config.off_meta);
            empty = fields != NULL && PyDict_CheckExact(fields) && PyDict_GET_SIZE(fields) == 0
                    && meta != NULL && Py_IS_TYPE(meta, (PyTypeObject *)ctx_config.meta_type)
                    && SLOT(meta, ctx_config.off_operation) == Py_None;
        }
        if (empty) {
            Py_DECREF(span);
            Py_DECREF(ctx);
            Py_RETURN_NONE;
        }
    }
    else if (ctx == ctx_config.root && !PyTuple_CheckExact(span)) {
        /* A span and the root context, the usual case: the span alone, no pair to allocate (a
         * plain tuple set as the span by hand still goes in a pair, so it cannot pass for one). */
        Py_DECREF(ctx);
        return span;
    }
    PyObject *carried = PyTuple_New(2);
    if (carried == NULL) {
        Py_DECREF(span);
        Py_DECREF(ctx);
        return NULL;
    }
    PyTuple_SET_ITEM(carried, 0, span);
    PyTuple_SET_ITEM(carried, 1, ctx);
    return carried;
}

/* enter_carried(carried): in the server's task, before the handler of that message. */
static PyObject *
carried_enter(PyObject *module, PyObject *carried)
{
    if (!context_ready()) {
        return NULL;
    }
    PyObject *span = carried, *ctx = ctx_config.root; /* not a pair: a span alone, the root context */
    if (PyTuple_CheckExact(carried)) {
        if (PyTuple_GET_SIZE(carried) != 2) {
            PyErr_Format(PyExc_TypeError, "enter_carried takes what capture_carried returned, not %R", carried);
            return NULL;
        }
        span = PyTuple_GET_ITEM(carried, 0);
        ctx = PyTuple_GET_ITEM(carried, 1);
    }
    PyObject *own;
    if (PyContextVar_Get(ctx_config.error_var, NULL, &own) < 0) {
        return NULL;
    }
    int same = own == ctx; /* usually both are the root: then only the span is set */
    Py_XDECREF(own);
    PyObject *span_token = PyContextVar_Set(ctx_config.span_var, span);
    if (span_token == NULL || same) {
        return span_token;
    }
    PyObject *error_token = PyContextVar_Set(ctx_config.error_var, ctx);
    if (error_token == NULL) {
        PyContextVar_Reset(ctx_config.span_var, span_token);
        Py_DECREF(span_token);
        return NULL;
    }
    PyObject *tokens = PyTuple_New(2);
    if (tokens == NULL) {
        PyContextVar_Reset(ctx_config.error_var, error_token);
        PyContextVar_Reset(ctx_config.span_var, span_token);
        Py_DECREF(error_token);
        Py_DECREF(span_token);
        return NULL;
    }
    PyTuple_SET_ITEM(tokens, 0, span_token);
    PyTuple_SET_ITEM(tokens, 1, error_token);
    return tokens;
}

/* exit_carried(token): in the server's task, after the handler, also when it raised. */
static PyObject *
carried_exit(PyObject *module, PyObject *token)
{
    if (!context_ready()) {
        return NULL;
    }
    if (PyTuple_CheckExact(token)) {
        if (PyTuple_GET_SIZE(token) != 2) {
            PyErr_Format(PyExc_TypeError, "exit_carried takes what enter_carried returned, not %R", token);
            return NULL;
        }
        if (PyContextVar_Reset(ctx_config.error_var, PyTuple_GET_ITEM(token, 1)) < 0) {
            return NULL;
        }
        token = PyTuple_GET_ITEM(token, 0);
    }
    if (PyContextVar_Reset(ctx_config.span_var, token) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- spans ------------------------------------------------------------------------------------ */

typedef struct {
    PyObject *ref_type;      /* SpanRef (a named tuple of 5) */
    PyObject *live_type;     /* LiveSpan */
    PyObject *server_type;   /* SpanServer */
    PyObject *lookup;        /* the name table's get: name -> process or None */
    PyObject *server_name;   /* "arbord.spans" */
    PyObject *active;        /* telemetry.active_events: a mapping, keyed by event */
    PyObject *start_event, *stop_event;
    PyObject *getrandbits;   /* random.getrandbits */
    PyObject *running_loop;  /* asyncio.get_running_loop */
    PyObject *tasks;         /* loop -> running task (3.11), or NULL: then current_task is called */
    PyObject *current_task;  /* asyncio.current_task */
    PyObject *time_ns, *perf_counter_ns;
    PyObject *slow_start;    /* the twin's start: every case handed back */
    PyObject *slow_end;      /* the twin's end */
    PyObject *emit_start;    /* emit_start(live) */
    PyObject *stop;          /* _stop(server, live, status, error, attributes) */
    PyObject *s_recording, *s_foreign_parent, *s_row_of, *s_open_by_id, *s_open, *s_limits,
        *s_attributes, *s_restore_to, *s_ok, *s_name, *s_ref, *s_status, *s_error;
    Py_ssize_t off_attributes, off_ended, off_events, off_links, off_name, off_parent_live, off_ref,
        off_start_ns, off_start_time_ns, off_task;
} SpanConfig;

static SpanConfig span_config;

static PyObject *
configure_spans(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"ref_type", "live_type", "server_type", "lookup", "server_name", "active",
                            "start_event", "stop_event", "getrandbits", "running_loop", "tasks",
                            "current_task", "time_ns", "perf_counter_ns", "slow_start", "slow_end",
                            "emit_start", "stop", NULL};
    PyObject *ref_type, *live_type, *server_type, *lookup, *server_name, *active, *start_event,
        *stop_event, *getrandbits, *running_loop, *tasks, *current_task, *time_ns, *perf_counter_ns,
        *slow_start, *slow_end, *emit_start, *stop;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "OOOOUOOOOOOOOOOOOO:configure_spans", names, &ref_type, &live_type,
            &server_type, &lookup, &server_name, &active, &start_event,
            &stop_event, &getrandbits, &running_loop, &tasks, &current_task, &time_ns,
            &perf_counter_ns, &slow_start, &slow_end, &emit_start, &stop)) {
        return NULL;
    }
    if (tasks != Py_None && !PyDict_Check(tasks)) {
        PyErr_SetString(PyExc_TypeError, "tasks must be a dict or None");
        return NULL;
    }
    SpanConfig *c = &span_config;
    if (set_type(&c->ref_type, ref_type, "ref_type") < 0
        || set_type(&c->live_type, live_type, "live_type") < 0
        || set_type(&c->server_type, server_type, "server_type") < 0
        || set_callable(&c->lookup, lookup, "lookup") < 0
        || set_callable(&c->getrandbits, getrandbits, "getrandbits") < 0
        || set_callable(&c->running_loop, running_loop, "running_loop") < 0
        || set_callable(&c->current_task, current_task, "current_task") < 0
        || set_callable(&c->time_ns, time_ns, "time_ns") < 0
        || set_callable(&c->perf_counter_ns, perf_counter_ns, "perf_counter_ns") < 0
        || set_callable(&c->slow_start, slow_start, "slow_start") < 0
        || set_callable(&c->slow_end, slow_end, "slow_end") < 0
        || set_callable(&c->emit_start, emit_start, "emit_start") < 0
        || set_callable(&c->stop, stop, "stop") < 0) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)ref_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "ref_type must be a tuple type");
        return NULL;
    }
    PyTypeObject *live = (PyTypeObject *)live_type;
    if ((c->off_attributes = slot_offset(live, "attributes")) < 0
        || (c->off_ended = slot_offset(live, "ended")) < 0
        || (c->off_events = slot_offset(live, "events")) < 0
        || (c->off_links = slot_offset(live, "links")) < 0
        || (c->off_name = slot_offset(live, "name")) < 0
        || (c->off_parent_live = slot_offset(live, "parent_live")) < 0
        || (c->off_ref = slot_offset(live, "ref")) < 0
        || (c->off_start_ns = slot_offset(live, "start_ns")) < 0
        || (c->off_start_time_ns = slot_offset(live, "start_time_ns")) < 0
        || (c->off_task = slot_offset(live, "task")) < 0) {
        return NULL;
    }
#define KEEP(field, value) Py_INCREF(value); Py_XSETREF(c->field, value)
    KEEP(server_name, server_name);
    KEEP(active, active);
    KEEP(start_event, start_event);
    KEEP(stop_event, stop_event);
#undef KEEP
    Py_XSETREF(c->tasks, tasks == Py_None ? NULL : Py_NewRef(tasks));
#define INTERN(field, text) \
    if (c->field == NULL && (c->field = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_recording, "recording");
    INTERN(s_foreign_parent, "foreign_parent");
    INTERN(s_row_of, "row_of");
    INTERN(s_open_by_id, "open_by_id");
    INTERN(s_open, "open");
    INTERN(s_limits, "limits");
    INTERN(s_attributes, "attributes");
    INTERN(s_restore_to, "restore_to");
    INTERN(s_ok, "ok");
    INTERN(s_name, "name");
    INTERN(s_ref, "ref");
    INTERN(s_status, "status");
    INTERN(s_error, "error");
#undef INTERN
    Py_RETURN_NONE;
}

static int
spans_ready(void)
{
    if (span_config.ref_type == NULL || ctx_config.span_var == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "daemon._context_speedups: configure_context and configure_spans come first");
        return 0;
    }
    return 1;
}

static PyObject *server_attr(PyObject *server, PyObject *name);

/* The span server when it records (a new reference), NULL when not (no error), or NULL with an
 * error. */
static PyObject *
recording_server(void)
{
    SpanConfig *c = &span_config;
    PyObject *server = PyObject_Vectorcall(c->lookup, &c->server_name, 1, NULL);
    if (server == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(server, (PyTypeObject *)c->server_type)) {
        Py_DECREF(server);
        return NULL;
    }
    PyObject *recording = server_attr(server, c->s_recording);
    if (recording == NULL) {
        Py_DECREF(server);
        return NULL;
    }
    Py_DECREF(recording);
    if (recording != Py_True) {
        Py_DECREF(server);
        return NULL;
    }
    return server;
}

/* A clock in nanoseconds: clock_gettime where it is the one Python's time module reads (Linux:
 * time_ns is CLOCK_REALTIME, perf_counter_ns CLOCK_MONOTONIC), else the Python function. */
static PyObject *
clock_ns(int monotonic)
{
#if defined(__linux__)
    struct timespec ts;
    if (clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts) == 0) {
        return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    }
#endif
    return PyObject_CallNoArgs(monotonic ? span_config.perf_counter_ns : span_config.time_ns);
}

/* `count` (1 to 3) 64-bit words of random bits from one call of random.getrandbits. */
static int
random_words(unsigned long long *words, int count)
{
    PyObject *bits = PyLong_FromLong(64L * count);
    if (bits == NULL) {
        return -1;
    }
    PyObject *value = PyObject_Vectorcall(span_config.getrandbits, &bits, 1, NULL);
    Py_DECREF(bits);
    if (value == NULL) {
        return -1;
    }
    if (!PyLong_CheckExact(value)) {
        Py_DECREF(value);
        PyErr_SetString(PyExc_TypeError, "getrandbits must return an int");
        return -1;
    }
    unsigned char bytes[24];
    int failed = _PyLong_AsByteArray((PyLongObject *)value, bytes, (size_t)(8 * count), 1, 0);
    Py_DECREF(value);
    if (failed < 0) {
        return -1;
    }
    for (int i = 0; i < count; i++) {
        unsigned long long word = 0;
        for (int j = 7; j >= 0; j--) {
            word = (word << 8) | bytes[8 * i + j];
        }
        words[i] = word;
    }
    return 0;
}

/* An id of `count` words (1: a span id, 16 hex digits; 2: a trace id, 32), never all zero (W3C):
 * an all-zero one becomes 1, as the twin's `or 1`. */
static PyObject *
hex_id(const unsigned long long *words, int count)
{
    static const char hex[] = "0123456789abcdef";
    char text[32];
    unsigned long long last = words[count - 1];
    int zero = 1;
    for (int i = 0; i < count; i++) {
        zero &= words[i] == 0;
    }
    if (zero) {
        last = 1;
    }
    for (int i = 0; i < count; i++) {
        unsigned long long word = i == count - 1 ? last : words[i];
        for (int j = 0; j < 16; j++) {
            text[i * 16 + j] = hex[(word >> (60 - 4 * j)) & 0xf];
        }
    }
    return PyUnicode_FromStringAndSize(text, 16 * count);
}

/* An attribute of the span server: its instance dict first (no walk of its class), else getattr. */
static PyObject *
server_attr(PyObject *server, PyObject *name)
{
    PyObject **dict = _PyObject_GetDictPtr(server);
    if (dict != NULL && *dict != NULL) {
        PyObject *value = PyDict_GetItemWithError(*dict, name);
        if (value != NULL) {
            return Py_NewRef(value);
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return server_attr(server, name);
}

/* A new SpanRef(trace_id, span_id, sampled, parent, False); steals trace_id and span_id. */
static PyObject *
new_ref(PyObject *trace_id, PyObject *span_id, PyObject *sampled, PyObject *parent)
{
    PyTypeObject *type = (PyTypeObject *)span_config.ref_type;
    PyObject *ref = type->tp_alloc(type, 5);
    if (ref == NULL) {
        Py_DECREF(trace_id);
        Py_DECREF(span_id);
        return NULL;
    }
    PyTuple_SET_ITEM(ref, 0, trace_id);
    PyTuple_SET_ITEM(ref, 1, span_id);
    PyTuple_SET_ITEM(ref, 2, Py_NewRef(sampled));
    PyTuple_SET_ITEM(ref, 3, Py_NewRef(parent));
    PyTuple_SET_ITEM(ref, 4, Py_NewRef(Py_False));
    return ref;
}

/* The running task (borrowed from the loop's table, or a new reference from current_task in
 * *owned), NULL when there is none (no error: no running loop, or no task). */
static PyObject *
running_task(PyObject **owned)
{
    SpanConfig *c = &span_config;
    *owned = NULL;
    if (c->tasks != NULL) {
        PyObject *loop = PyObject_CallNoArgs(c->running_loop);
        if (loop == NULL) {
            if (PyErr_ExceptionMatches(PyExc_RuntimeError)) {
                PyErr_Clear();
            }
            return NULL;
        }
        PyObject *task = PyDict_GetItemWithError(c->tasks, loop);
        Py_DECREF(loop);
        return task;
    }
    PyObject *task = PyObject_CallNoArgs(c->current_task);
    if (task == NULL) {
        if (PyErr_ExceptionMatches(PyExc_RuntimeError)) {
            PyErr_Clear();
        }
        return NULL;
    }
    if (task == Py_None) {
        Py_DECREF(task);
        return NULL;
    }
    *owned = task;
    return task;
}

static PyObject *
hand_back(PyObject *function, PyObject *const *args, Py_ssize_t nargs)
{
    return PyObject_Vectorcall(function, args, nargs, NULL);
}

static PyObject *start_recorded(PyObject *server, PyObject *const *args, Py_ssize_t nargs);
static PyObject *end_recorded(PyObject *server, PyObject *const *args, Py_ssize_t nargs);

/* Put the arguments of a call (vectorcall: `args`, `nargs` positional, `kwnames`) into `out`, by the
 * parameters `names` (`npos` of them may be positional, all by keyword); missing ones keep `out`'s
 * defaults. Returns -1 with a TypeError. */
static int
bind_arguments(const char *function, PyObject *const *names, Py_ssize_t nparams, Py_ssize_t npos,
               PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **out)
{
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional arguments (%zd given)", function,
                     npos, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        out[i] = args[i];
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        Py_ssize_t found = -1;
        for (Py_ssize_t i = 0; i < nparams && found < 0; i++) {
            if (key == names[i]) {
                found = i;
            }
        }
        for (Py_ssize_t i = 0; i < nparams && found < 0; i++) {
            int equal = PyObject_RichCompareBool(key, names[i], Py_EQ);
            if (equal < 0) {
                return -1;
            }
            if (equal) {
                found = i;
            }
        }
        if (found < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", function, key);
            return -1;
        }
        if (found < nargs) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument %R", function, key);
            return -1;
        }
        out[found] = args[nargs + k];
    }
    return 0;
}

/* start_span(name, attributes=None): daemon.spans.start_span. */
static PyObject *
span_start(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (!spans_ready()) {
        return NULL;
    }
    PyObject *bound[2] = {NULL, Py_None};
    PyObject *names[2] = {span_config.s_name, span_config.s_attributes};
    if (bind_arguments("start_span", names, 2, 2, args, nargs, kwnames, bound) < 0) {
        return NULL;
    }
    if (bound[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "start_span() missing required argument 'name'");
        return NULL;
    }
    PyObject *server = recording_server();
    if (server == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        return hand_back(span_config.slow_start, bound, 2); /* non-recording spans */
    }
    PyObject *ref = start_recorded(server, bound, 2);
    Py_DECREF(server);
    return ref;
}

/* end_span(ref=None, status="ok", *, error=None, attributes=None): daemon.spans.end_span. */
static PyObject *
span_end(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (!spans_ready()) {
        return NULL;
    }
    PyObject *bound[4] = {Py_None, span_config.s_ok, Py_None, Py_None};
    PyObject *names[4] = {span_config.s_ref, span_config.s_status, span_config.s_error,
                          span_config.s_attributes};
    if (bind_arguments("end_span", names, 4, 2, args, nargs, kwnames, bound) < 0) {
        return NULL;
    }
    PyObject *server = recording_server();
    if (server == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        return hand_back(span_config.slow_end, bound, 4);
    }
    PyObject *done = end_recorded(server, bound, 4);
    Py_DECREF(server);
    return done;
}

/* A span's start with a recording span server (held by the caller). */
static PyObject *
start_recorded(PyObject *server, PyObject *const *args, Py_ssize_t nargs)
{
    SpanConfig *c = &span_config;
    PyObject *name = args[0], *attributes = args[1];
    if (!PyUnicode_CheckExact(name)) {
        return hand_back(c->slow_start, args, nargs); /* counted and replaced there */
    }
    PyObject *parent;
    if (PyContextVar_Get(ctx_config.span_var, NULL, &parent) < 0) {
        return NULL;
    }
    if (parent == NULL) {
        parent = Py_NewRef(Py_None);
    }
    PyObject *ref;
    if (parent == Py_None) {
        PyObject *foreign = server_attr(server, c->s_foreign_parent);
        if (foreign == NULL) {
            Py_DECREF(parent);
            return NULL;
        }
        Py_DECREF(foreign);
        if (foreign != Py_None) { /* the OTel bridge decides the parent */
            Py_DECREF(parent);
            return hand_back(c->slow_start, args, nargs);
        }
        unsigned long long words[3];
        PyObject *trace_id = random_words(words, 3) < 0 ? NULL : hex_id(words, 2);
        PyObject *span_id = trace_id == NULL ? NULL : hex_id(words + 2, 1);
        if (span_id == NULL) {
            Py_XDECREF(trace_id);
            Py_DECREF(parent);
            return NULL;
        }
        ref = new_ref(trace_id, span_id, Py_True, Py_None);
    }
    else {
        if (!PyTuple_Check(parent) || PyTuple_GET_SIZE(parent) < 5) {
            Py_DECREF(parent);
            return hand_back(c->slow_start, args, nargs);
        }
        unsigned long long word;
        PyObject *span_id = random_words(&word, 1) < 0 ? NULL : hex_id(&word, 1);
        if (span_id == NULL) {
            Py_DECREF(parent);
            return NULL;
        }
        ref = new_ref(Py_NewRef(PyTuple_GET_ITEM(parent, 0)), span_id, PyTuple_GET_ITEM(parent, 2),
                      parent);
    }
    if (ref == NULL) {
        Py_DECREF(parent);
        return NULL;
    }
    PyObject *token = PyContextVar_Set(ctx_config.span_var, ref);
    if (token == NULL) {
        goto fail;
    }
    Py_DECREF(token);
    PyObject *owned_task;
    PyObject *task = running_task(&owned_task);
    if (task == NULL) {
        if (PyErr_Occurred()) {
            goto fail;
        }
        Py_DECREF(parent);
        return ref; /* no running task: plain synchronous code records nothing */
    }
    PyObject *kept;
    if (attributes == Py_None || (PyDict_CheckExact(attributes) && PyDict_GET_SIZE(attributes) == 0)) {
        kept = PyDict_New();
    }
    else {
        PyObject *limits = server_attr(server, c->s_limits);
        if (limits == NULL) {
            Py_XDECREF(owned_task);
            goto fail;
        }
        PyObject *empty = PyDict_New();
        if (empty == NULL) {
            Py_DECREF(limits);
            Py_XDECREF(owned_task);
            goto fail;
        }
        PyObject *call_args[3] = {limits, attributes, empty};
        kept = PyObject_VectorcallMethod(c->s_attributes, call_args,
                                         3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_DECREF(empty);
        Py_DECREF(limits);
    }
    if (kept == NULL) {
        Py_XDECREF(owned_task);
        goto fail;
    }
    PyObject *span_id = PyTuple_GET_ITEM(ref, 1);
    PyObject *live = NULL;
    PyObject *row_of = server_attr(server, c->s_row_of);
    PyObject *row = row_of == NULL ? NULL : PyObject_Vectorcall(row_of, &task, 1, NULL);
    Py_XDECREF(row_of);
    if (row == NULL) {
        Py_DECREF(kept);
        Py_XDECREF(owned_task);
        goto fail;
    }
    if (row == Py_None || !PyTuple_Check(row) || PyTuple_GET_SIZE(row) < 2
        || !PyDict_CheckExact(PyTuple_GET_ITEM(row, 1))) {
        /* the task's first span: its row and its exit callback (SpanServer.open) */
        PyObject *call_args[5] = {server, name, ref, kept, task};
        live = PyObject_VectorcallMethod(c->s_open, call_args, 5 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                         NULL);
        Py_DECREF(kept);
    }
    else {
        PyObject *by_id = server_attr(server, c->s_open_by_id);
        if (by_id == NULL || !PyDict_CheckExact(by_id)) {
            if (by_id != NULL) {
                PyErr_SetString(PyExc_TypeError, "SpanServer.open_by_id must be a dict");
                Py_DECREF(by_id);
            }
            Py_DECREF(kept);
            Py_DECREF(row);
            Py_XDECREF(owned_task);
            goto fail;
        }
        PyObject *parent_live = Py_None;
        if (parent != Py_None) {
            parent_live = PyDict_GetItemWithError(by_id, PyTuple_GET_ITEM(parent, 1));
            if (parent_live == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(by_id);
                    Py_DECREF(kept);
                    Py_DECREF(row);
                    Py_XDECREF(owned_task);
                    goto fail;
                }
                parent_live = Py_None;
            }
        }
        PyTypeObject *live_type = (PyTypeObject *)c->live_type;
        PyObject *wall = clock_ns(0);
        PyObject *mono = wall == NULL ? NULL : clock_ns(1);
        live = mono == NULL ? NULL : live_type->tp_alloc(live_type, 0);
        if (live == NULL) {
            Py_XDECREF(wall);
            Py_XDECREF(mono);
            Py_DECREF(by_id);
            Py_DECREF(kept);
            Py_DECREF(row);
            Py_XDECREF(owned_task);
            goto fail;
        }
        slot_set(live, c->off_name, Py_NewRef(name));
        slot_set(live, c->off_ref, Py_NewRef(ref));
        slot_set(live, c->off_parent_live, Py_NewRef(parent_live));
        slot_set(live, c->off_attributes, kept);
        slot_set(live, c->off_events, Py_NewRef(Py_None));
        slot_set(live, c->off_links, Py_NewRef(Py_None));
        slot_set(live, c->off_task, Py_NewRef(task));
        slot_set(live, c->off_ended, Py_NewRef(Py_False));
        slot_set(live, c->off_start_time_ns, wall);
        slot_set(live, c->off_start_ns, mono);
        if (PyDict_SetItem(PyTuple_GET_ITEM(row, 1), span_id, live) < 0
            || PyDict_SetItem(by_id, span_id, live) < 0) {
            Py_CLEAR(live);
        }
        Py_DECREF(by_id);
    }
    Py_DECREF(row);
    Py_XDECREF(owned_task);
    if (live == NULL) {
        goto fail;
    }
    int listened = PySequence_Contains(c->active, c->start_event);
    if (listened > 0) {
        PyObject *done = PyObject_Vectorcall(c->emit_start, &live, 1, NULL);
        if (done == NULL) {
            Py_DECREF(live);
            goto fail;
        }
        Py_DECREF(done);
    }
    Py_DECREF(live);
    if (listened < 0) {
        goto fail;
    }
    Py_DECREF(parent);
    return ref;
fail:
    Py_DECREF(parent);
    Py_DECREF(ref);
    return NULL;
}

/* A span's end with a recording span server (held by the caller). */
static PyObject *
end_recorded(PyObject *server, PyObject *const *args, Py_ssize_t nargs)
{
    SpanConfig *c = &span_config;
    PyObject *ref = args[0], *status = args[1], *error = args[2], *attributes = args[3];
    PyObject *current;
    if (PyContextVar_Get(ctx_config.span_var, NULL, &current) < 0) {
        return NULL;
    }
    if (current == NULL) {
        current = Py_NewRef(Py_None);
    }
    if (ref == Py_None) {
        ref = current;
    }
    if (ref == Py_None || Py_TYPE(ref) != (PyTypeObject *)c->ref_type || PyTuple_GET_SIZE(ref) < 5) {
        Py_DECREF(current);
        return hand_back(c->slow_end, args, nargs); /* orphans and bad input: warned there */
    }
    PyObject *span_id = PyTuple_GET_ITEM(ref, 1);
    PyObject *by_id = server_attr(server, c->s_open_by_id);
    if (by_id == NULL) {
        Py_DECREF(current);
        return NULL;
    }
    PyObject *live = PyDict_CheckExact(by_id) ? PyDict_GetItemWithError(by_id, span_id) : NULL;
    if (live == NULL) {
        Py_DECREF(by_id);
        Py_DECREF(current);
        if (PyErr_Occurred()) {
            return NULL;
        }
        return hand_back(c->slow_end, args, nargs); /* not open: an orphan end */
    }
    Py_INCREF(live);
    int failed = PyDict_DelItem(by_id, span_id);
    Py_DECREF(by_id);
    if (failed < 0 || !PyObject_TypeCheck(live, (PyTypeObject *)c->live_type)) {
        if (!failed) {
            PyErr_SetString(PyExc_TypeError, "an open span that is not a LiveSpan");
        }
        goto fail;
    }
    slot_set(live, c->off_ended, Py_NewRef(Py_True));
    PyObject *task = SLOT(live, c->off_task);
    PyObject *row_of = server_attr(server, c->s_row_of);
    PyObject *row = row_of == NULL || task == NULL ? NULL : PyObject_Vectorcall(row_of, &task, 1, NULL);
    Py_XDECREF(row_of);
    if (row == NULL) {
        goto fail;
    }
    if (PyTuple_Check(row) && PyTuple_GET_SIZE(row) >= 2 && PyDict_Check(PyTuple_GET_ITEM(row, 1))) {
        PyObject *spans = PyTuple_GET_ITEM(row, 1);
        PyObject *found = PyDict_GetItemWithError(spans, span_id);
        if (found != NULL ? PyDict_DelItem(spans, span_id) < 0 : PyErr_Occurred() != NULL) {
            Py_DECREF(row);
            goto fail;
        }
    }
    Py_DECREF(row);
    if (current != Py_None && PyTuple_Check(current) && PyTuple_GET_SIZE(current) >= 2) {
        int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(current, 1), span_id, Py_EQ);
        if (same < 0) {
            goto fail;
        }
        if (same) {
            PyObject *parent = SLOT(live, c->off_parent_live);
            PyObject *restore;
            int parent_ended = 0;
            if (parent != NULL && parent != Py_None) {
                PyObject *ended = PyObject_TypeCheck(parent, (PyTypeObject *)c->live_type)
                                      ? SLOT(parent, c->off_ended)
                                      : NULL;
                parent_ended = ended == NULL ? -1 : PyObject_IsTrue(ended);
                if (parent_ended < 0 && PyErr_Occurred()) {
                    goto fail;
                }
            }
            if (parent_ended == 0) {
                restore = Py_NewRef(PyTuple_GET_ITEM(ref, 3));
            }
            else {
                restore = PyObject_CallMethodNoArgs(live, c->s_restore_to);
                if (restore == NULL) {
                    goto fail;
                }
            }
            PyObject *token = PyContextVar_Set(ctx_config.span_var, restore);
            Py_DECREF(restore);
            if (token == NULL) {
                goto fail;
            }
            Py_DECREF(token);
        }
    }
    int listened = PySequence_Contains(c->active, c->stop_event);
    if (listened < 0) {
        goto fail;
    }
    if (listened) {
        PyObject *call_args[5] = {server, live, status, error, attributes};
        PyObject *done = PyObject_Vectorcall(c->stop, call_args, 5, NULL);
        if (done == NULL) {
            goto fail;
        }
        Py_DECREF(done);
    }
    Py_DECREF(live);
    Py_DECREF(current);
    Py_RETURN_TRUE;
fail:
    Py_DECREF(live);
    Py_DECREF(current);
    return NULL;
}

/* ---- the module --------------------------------------------------------------------------------- */

static PyMethodDef module_methods[] = {
    {"fast_calls", (PyCFunction)fast_calls, METH_O,
     "fast_calls(cls, /)\n--\n\n"
     "Make calling ``cls`` (a subclass of ContextBlock that keeps its __new__ and __init__) build the\n"
     "block straight from the keyword arguments."},
    {"configure_context", (PyCFunction)(void (*)(void))configure_context, METH_VARARGS | METH_KEYWORDS,
     "configure_context(*, error_var, span_var, context_type, meta_type, policy_type, merged, attach, root)\n"
     "--\n\n"
     "Give the error context's hot path what it works on (daemon/context.py calls it once)."},
    {"configure_spans", (PyCFunction)(void (*)(void))configure_spans, METH_VARARGS | METH_KEYWORDS,
     "configure_spans(*, ref_type, live_type, server_type, lookup, server_name, active, start_event, "
     "stop_event, getrandbits, running_loop, tasks, current_task, time_ns, perf_counter_ns, "
     "slow_start, slow_end, emit_start, stop)\n--\n\n"
     "Give the spans' hot path what it works on (daemon/spans/api.py calls it once)."},
    {"capture_carried", (PyCFunction)carried_capture, METH_NOARGS,
     "capture_carried()\n--\n\n"
     "What the sender's task carries: None when neither a span nor an error context is current,\n"
     "the span alone when the error context is the root one, else the pair (span, context).\n\n"
     "daemon.context.capture_carried in C: the envelope hook's capture, in the sender's task."},
    {"enter_carried", (PyCFunction)carried_enter, METH_O,
     "enter_carried(carried, /)\n--\n\n"
     "Make a sender's span and error context current in the handler's task; returns the token for\n"
     "exit_carried.\n\n"
     "daemon.context.enter_carried in C."},
    {"exit_carried", (PyCFunction)carried_exit, METH_O,
     "exit_carried(token, /)\n--\n\n"
     "Put back the handler task's own span and error context.\n\n"
     "daemon.context.exit_carried in C."},
    {"start_span", (PyCFunction)(void (*)(void))span_start, METH_FASTCALL | METH_KEYWORDS,
     "start_span(name, attributes=None)\n--\n\n"
     "Open a span named ``name``, child of the current span (or of the OTel span current, with the\n"
     "bridge; else the root of a new trace), and make it current. Returns its ``SpanRef``.\n\n"
     "daemon.spans.start_span in C: the common case here, every other case in its Python twin."},
    {"end_span", (PyCFunction)(void (*)(void))span_end, METH_FASTCALL | METH_KEYWORDS,
     "end_span(ref=None, status='ok', *, error=None, attributes=None)\n--\n\n"
     "End span ``ref`` (default: the current one), wherever it is in the stack. Returns False for a\n"
     "span that is not open (unknown, or already ended).\n\n"
     "daemon.spans.end_span in C: the common case here, every other case in its Python twin."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "daemon._context_speedups",
    .m_doc = "The hot paths of the error context and of spans (daemon/_context_speedups.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__context_speedups(void)
{
    if (PyType_Ready(&ContextBlockType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "ContextBlock", (PyObject *)&ContextBlockType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
