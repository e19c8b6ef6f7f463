"""Python's handles on JVM classes and static methods, looked up once per process.

PySpark reaches the JVM through py4j, and py4j resolves a name afresh on every use: each
`F.col(...)` first asks the JVM what `org.apache.spark.sql.functions` is, then whether `col`
is a method of it, and only then calls it. Names PySpark gives without a package
(`functions`, `PythonUtils`, `PythonSQLUtils`) are tried against every wildcard import first,
and each miss makes the class loader search all of Spark's jars. On a tiny nightly date that
was about 13,000 lookups, some 2.5 s of its 33 s (docs/performance.md).

A class or a static method is the same object for the life of the JVM, so the answer is kept
on the py4j object that asked (its instance dictionary, where Python looks before calling
`__getattr__` again). Only classes, packages and static methods are kept: a static field is
read from the JVM every time, as py4j does.
"""
from __future__ import annotations

from py4j.java_gateway import JavaClass, JavaMember, JavaPackage, JVMView


def _keep(holder: object, name: str, found: object) -> object:
    if isinstance(found, (JavaClass, JavaPackage, JavaMember)):
        _remembering(found)  # a class or package keeps what it resolves in turn
        holder.__dict__[name] = found
    return found


class _RememberingJVMView(JVMView):
    def __getattr__(self, name):
        return _keep(self, name, JVMView.__getattr__(self, name))


class _RememberingJavaPackage(JavaPackage):
    def __getattr__(self, name):
        return _keep(self, name, JavaPackage.__getattr__(self, name))


class _RememberingJavaClass(JavaClass):
    def __getattr__(self, name):
        return _keep(self, name, JavaClass.__getattr__(self, name))


_KINDS = ((JVMView, _RememberingJVMView), (JavaPackage, _RememberingJavaPackage), (JavaClass, _RememberingJavaClass))


def _remembering(obj: object) -> None:
    """Make `obj` keep what it resolves (py4j's own classes only; anything else is left alone)."""
    for plain, remembering in _KINDS:
        if type(obj) is plain:
            obj.__class__ = remembering
            return


def remember_jvm_names(jvm: JVMView) -> None:
    """From now on the gateway's view keeps every class, package and static method it resolves
    (idempotent: a second session in the same process shares the view)."""
    _remembering(jvm)
