"""Build hook: compile the order book's hot modules with Cython (pure-Python mode).

``venues/orderbook/book.py`` and ``prices.py`` are ordinary Python; the ``.pxd`` files beside them
declare C types for the same source (extension types, typed fields and locals, C-level calls).
``pip install .`` / ``pip install -e .`` compile them into extension modules that Python imports in
place of the ``.py`` files; everything else (metadata, packages, data) is in pyproject.toml.

``CROSSROUTE_PURE_PYTHON=1`` at build time skips the compilation, and the extensions are optional:
without a C compiler the install still succeeds and runs the same code as pure Python
(``venues.orderbook.COMPILED`` tells which one runs).
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

# The modules compiled, each from its .py with its .pxd; the order book imports the price set.
COMPILED_MODULES = ("venues.orderbook.prices", "venues.orderbook.book")

# Types come from the .pxd files only, not the annotations, so that a bad argument still reaches
# the book's own validation (an InvalidArgument naming the field) instead of a Cython TypeError.
# Bounds checks and negative indexing stay as in Python: the source relies on both.
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": False}


def extensions() -> list[Extension]:
    if os.environ.get("CROSSROUTE_PURE_PYTHON") == "1":
        return []
    from Cython.Build import cythonize

    modules = [
        Extension(name, [name.replace(".", "/") + ".py"], optional=True)
        for name in COMPILED_MODULES
    ]
    return cythonize(modules, compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=extensions())
