# Cython declarations augmenting prices.py (pure-Python mode): the same source runs unchanged
# without Cython; compiled (setup.py), PriceSet is an extension type with C-level methods.
cimport cython


cdef class PriceSet:
    cdef public dict _words
    cdef public object _keys
    cdef public object _low
    cdef public object _high
    cdef public Py_ssize_t _count

    cpdef void add(self, object price) except *
    cpdef void remove(self, object price) except *
    cpdef object min(self)
    cpdef object max(self)
