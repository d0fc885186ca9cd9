# The compiled twin of records.py (see its docstring): modules that cimport it call this inline C
# function where their source calls records.new. Declarations only, no .py is compiled for it.
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_SET_ITEM

cdef extern from *:
    """
    /* A new, empty instance of the tuple subclass cls with n items (a new reference). */
    static CYTHON_INLINE PyObject *crossroute_alloc_record(PyObject *cls, Py_ssize_t n) {
        return ((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, n);
    }
    """
    object crossroute_alloc_record(object cls, Py_ssize_t n)


cdef inline object new(object cls, tuple fields):
    cdef Py_ssize_t n = PyTuple_GET_SIZE(fields)
    cdef Py_ssize_t i
    cdef object record = crossroute_alloc_record(cls, n)
    cdef object item
    for i in range(n):
        item = <object>PyTuple_GET_ITEM(fields, i)
        Py_INCREF(item)  # the record's own reference; SET_ITEM takes it over
        PyTuple_SET_ITEM(record, i, item)
    return record
