"""Renamed keyword arguments: the old names keep working, with a DeprecationWarning."""
import functools
import warnings


def renamed(**old_to_new):
    """Decorator: each old keyword (old=new) is passed on as the new one, with a warning."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both '{old}' and '{new}'")
                    warnings.warn(f"{fn.__name__}(): '{old}' is deprecated, use '{new}'",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return call
    return wrap
