"""A recording stand-in for ``bpy.types.UILayout``, so every ``draw()`` of the add-on runs in background Blender
(which cannot draw) and is checked against Blender's own RNA.

Each layout call is checked against ``UILayout``'s RNA function (keyword names, enum values such as icons), each
``prop``/``prop_search`` against the RNA of the data it names, each ``operator`` against the registered operator
(and the properties the draw code sets on it, with their types and enum items), and each ``template_list``
against the registered ``UIList`` (whose ``draw_item`` and ``filter_items`` are then run for every item).
Problems are collected, not raised, so one run lists every broken name of a panel. A draw also must only draw:
file access (other than imports), folder creation, sockets and processes started while it runs are problems too
(seen through Python's audit hooks), and so are looks at the file system (``os.stat``, ``os.scandir``,
``os.listdir``: a stat on every redraw of a network folder stalls the UI). The same holds for every ``poll()``
Blender runs on a redraw: the panels' own (:func:`poll_panel`) and that of each operator a draw puts a button for
(run by ``operator()`` here, as Blender greys out a button whose poll fails).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import bpy

_RNA = bpy.types.UILayout.bl_rna


def _icons() -> set[str]:
    return {item.identifier for item in _RNA.functions["label"].parameters["icon"].enum_items}


@dataclass
class DrawLog:
    """What one or more draws did: the problems found and what was drawn (for assertions on content)."""

    problems: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    props: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str, bool]] = field(default_factory=list)  # operator, text given, depress
    lists: list[str] = field(default_factory=list)
    icons: set[str] = field(default_factory=_icons)

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")


_DRAWING: list[DrawLog] = []  # the log of the draw running now (audit hooks cannot be removed: one, gated)
_DRAW_THREAD: list[int] = []  # the thread drawing (the add-on's workers may touch files meanwhile: not a draw)
_CODE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".pth")
_SIDE_EFFECTS = ("os.mkdir", "os.remove", "os.rename", "os.rmdir", "os.chmod", "shutil.rmtree", "shutil.copyfile",
                 "socket.connect", "subprocess.Popen", "os.system", "urllib.Request")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _DRAWING or threading.get_ident() not in _DRAW_THREAD:
        return
    if event == "open":
        path = str(args[0]) if args and args[0] is not None else ""
        if isinstance(args[0], int) or path.endswith(_CODE_SUFFIXES) or "__pycache__" in path:
            return
        _DRAWING[-1].problem("draw()", f"opens a file ({path}): read it once outside draw and cache it")
    elif event in _SIDE_EFFECTS:
        _DRAWING[-1].problem("draw()", f"{event}{args[:1]}: a draw must not change anything")


sys.addaudithook(_audit)

_LOOKS = ("stat", "lstat", "scandir", "listdir")  # file-system looks that raise no audit event


@contextlib.contextmanager
def drawing(log: DrawLog) -> Iterator[None]:
    """While the body runs (a draw or a poll), file access and file-system looks are problems of ``log``."""
    outermost = not _DRAWING
    saved = {name: getattr(os, name) for name in _LOOKS} if outermost else {}

    def watch(name: str, real: Any) -> Any:
        def look(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
            text = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
            text = text.decode() if isinstance(text, bytes) else text
            if _DRAWING and threading.get_ident() in _DRAW_THREAD and text and not text.endswith(_CODE_SUFFIXES) \
                    and "__pycache__" not in text:
                _DRAWING[-1].problem("draw()", f"os.{name}({text}): look at files once outside draw and cache it")
            return real(path, *args, **kwargs)
        return look

    for name, real in saved.items():
        setattr(os, name, watch(name, real))
    _DRAWING.append(log)
    _DRAW_THREAD.append(threading.get_ident())
    try:
        yield
    finally:
        _DRAW_THREAD.pop()
        _DRAWING.pop()
        for name, real in saved.items():
            setattr(os, name, real)


def poll_panel(log: DrawLog, cls: type, context: Any) -> bool:
    """A panel's ``poll`` (True when it has none), run as Blender runs it on each redraw: touching no file."""
    if "poll" not in cls.__dict__:
        return True
    with drawing(log):
        return bool(cls.poll(context))


def _struct_props(data: Any) -> Any:
    if isinstance(data, _Owner):  # ``self`` of the draw: the class's own properties
        if data._data is None and issubclass(data._cls, bpy.types.Operator):
            rna = _operator_rna(data._cls.bl_idname)
            return rna.properties if rna is not None else None
        data = data._data if data._data is not None else data._cls
    rna = getattr(data, "bl_rna", None)
    return rna.properties if rna is not None else None


def _check_value(log: DrawLog, where: str, prop: Any, name: str, value: Any) -> None:
    kind = prop.type
    if kind == "ENUM":
        items = {i.identifier for i in prop.enum_items}
        values = value if prop.is_enum_flag and not isinstance(value, str) else {value}  # str: prop_enum's item
        bad = [v for v in values if v not in items]
        if bad:
            log.problem(where, f"{name}={value!r} is not one of {sorted(items)}")
    elif kind == "STRING" and not isinstance(value, str):
        log.problem(where, f"{name} takes a string, got {type(value).__name__}")
    elif kind == "BOOLEAN" and not isinstance(value, bool) and prop.array_length == 0:
        log.problem(where, f"{name} takes a bool, got {type(value).__name__}")
    elif kind in ("INT", "FLOAT") and prop.array_length == 0 and not isinstance(value, (int, float)):
        log.problem(where, f"{name} takes a number, got {type(value).__name__}")


class OperatorRecorder:
    """What ``layout.operator()`` returns: property assignments are checked against the operator's RNA."""

    def __init__(self, log: DrawLog, idname: str, rna: Any) -> None:
        object.__setattr__(self, "_log", log)
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_rna", rna)

    def __setattr__(self, name: str, value: Any) -> None:
        rna = self._rna
        if rna is None:
            return
        prop = rna.properties.get(name)
        if prop is None:
            self._log.problem(f"operator {self._idname}", f"has no property {name!r}")
            return
        _check_value(self._log, f"operator {self._idname}", prop, name, value)

    def __getattr__(self, name: str) -> Any:
        rna = self._rna
        prop = rna.properties.get(name) if rna is not None else None
        if prop is None:
            self._log.problem(f"operator {self._idname}", f"has no property {name!r}")
            return None
        return getattr(prop, "default", None)


def _operator_rna(idname: str) -> Any:
    module, _, name = idname.partition(".")
    if not module or not name:
        return None
    try:
        return getattr(getattr(bpy.ops, module), name).get_rna_type()
    except (AttributeError, KeyError):
        return None


class LayoutRecorder:
    """Stands in for ``UILayout``; every sub-layout is another recorder sharing the same log."""

    def __init__(self, log: DrawLog, context: Any, where: str) -> None:
        object.__setattr__(self, "_log", log)
        object.__setattr__(self, "_context", context)
        object.__setattr__(self, "_where", where)

    # Attributes (use_property_split, active, enabled, scale_y, ...) must exist on UILayout.
    def __setattr__(self, name: str, value: Any) -> None:
        prop = _RNA.properties.get(name)
        if prop is None:
            self._log.problem(self._where, f"UILayout has no attribute {name!r}")
        else:
            _check_value(self._log, self._where, prop, f"layout.{name}", value)

    def __getattr__(self, name: str) -> Any:
        if name in _RNA.properties:
            return getattr(_RNA.properties[name], "default", None)
        func = _RNA.functions.get(name)
        if func is None:
            self._log.problem(self._where, f"UILayout has no function {name!r}")
            return lambda *a, **k: LayoutRecorder(self._log, self._context, self._where)
        handler = getattr(type(self), f"_do_{name}", None)
        special = handler.__get__(self) if handler is not None else None

        def call(*args: Any, **kwargs: Any) -> Any:
            params = [p for p in func.parameters if not p.is_output]
            by_name = {p.identifier: p for p in params}
            for key, value in kwargs.items():
                param = by_name.get(key)
                if param is None:
                    self._log.problem(self._where, f"layout.{name}() has no keyword {key!r}")
                elif key == "icon":
                    if value not in self._log.icons:
                        self._log.problem(self._where, f"layout.{name}(icon={value!r}): no such icon")
                elif param.type in ("ENUM", "STRING", "BOOLEAN") and value is not None:
                    _check_value(self._log, self._where, param, f"layout.{name}({key}=)", value)
            if len(args) > len(params):
                self._log.problem(self._where, f"layout.{name}() takes {len(params)} arguments")
            bound = dict(zip([p.identifier for p in params], args))
            bound.update(kwargs)
            missing = [p.identifier for p in params if p.is_required and p.identifier not in bound]
            if missing:
                self._log.problem(self._where, f"layout.{name}() misses {missing}")
            if special is not None:
                return special(**bound)
            return LayoutRecorder(self._log, self._context, self._where)

        return call

    # ------------------------------------------------------------------ calls with data to check

    def _prop_of(self, data: Any, name: str, call: str) -> Any:
        props = _struct_props(data)
        if props is None:
            self._log.problem(self._where, f"{call}: {data!r} is not Blender data")
            return None
        prop = props.get(name)
        if prop is None:
            self._log.problem(self._where, f"{call}: {data!r} has no property {name!r}")
            return None
        self._log.props.append(name)
        return prop

    def _do_label(self, text: str = "", **_: Any) -> None:
        self._log.labels.append(text)

    def _do_prop(self, data: Any, property: str, **_: Any) -> None:
        self._prop_of(data, property, "prop")

    def _do_prop_enum(self, data: Any, property: str, value: str, **_: Any) -> None:
        prop = self._prop_of(data, property, "prop_enum")
        if prop is not None:
            _check_value(self._log, self._where, prop, property, value)

    def _do_prop_search(self, data: Any, property: str, search_data: Any, search_property: str,
                        **_: Any) -> None:
        self._prop_of(data, property, "prop_search")
        self._prop_of(search_data, search_property, "prop_search")

    def _do_operator(self, operator: str, text: str = "", depress: bool = False, **_: Any) -> OperatorRecorder:
        rna = _operator_rna(operator)
        if rna is None:
            self._log.problem(self._where, f"operator {operator!r} is not registered")
        else:  # Blender polls each button's operator on every redraw (greyed out when it fails)
            module, _, name = operator.partition(".")
            try:
                getattr(getattr(bpy.ops, module), name).poll()
            except Exception as exc:  # a poll that raises breaks the button for the user
                self._log.problem(self._where, f"operator {operator!r}: poll() raised {exc!r}")
        self._log.operators.append(operator)
        self._log.buttons.append((operator, text, bool(depress)))
        return OperatorRecorder(self._log, operator, rna)

    def _do_template_list(self, listtype_name: str, list_id: str, dataptr: Any, propname: str,
                          active_dataptr: Any, active_propname: str, **_: Any) -> None:
        cls = getattr(bpy.types, listtype_name, None)
        if cls is None or not issubclass(cls, bpy.types.UIList):
            self._log.problem(self._where, f"template_list: UIList {listtype_name!r} is not registered")
        collection = self._prop_of(dataptr, propname, "template_list")
        self._prop_of(active_dataptr, active_propname, "template_list")
        self._log.lists.append(listtype_name)
        if cls is None or collection is None:
            return
        draw_ui_list(self._log, self._context, cls, dataptr, propname, active_dataptr, active_propname)


class _Owner:
    """``self`` for a ``draw``: a recording layout, then ``extra`` values, then the real data the class stands
    for (``data``: e.g. the add-on's preferences), then the class's own attributes (its RNA among them)."""

    def __init__(self, cls: type, layout: LayoutRecorder, data: Any = None, **extra: Any) -> None:
        self._cls = cls
        self._data = data
        self.layout = layout
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        if self._data is not None and hasattr(self._data, name):
            return getattr(self._data, name)
        value = getattr(self._cls, name)
        return value.__get__(self) if callable(value) and hasattr(value, "__get__") else value


def draw_ui_list(log: DrawLog, context: Any, cls: type, data: Any, propname: str, active_data: Any,
                 active_propname: str) -> None:
    """Run a UIList's ``filter_items`` and ``draw_item`` for every item, as Blender would."""
    owner = _Owner(cls, LayoutRecorder(log, context, cls.__name__), filter_name="", use_filter_invert=False,
                   bitflag_filter_item=1 << 30, use_filter_sort_alpha=False, use_filter_sort_reverse=False)
    items = getattr(data, propname)
    if "filter_items" in cls.__dict__:
        flags, order = cls.filter_items(owner, context, data, propname)
        if flags and len(flags) != len(items):
            log.problem(cls.__name__, f"filter_items gave {len(flags)} flags for {len(items)} items")
        if order and len(order) != len(items):
            log.problem(cls.__name__, f"filter_items gave {len(order)} positions for {len(items)} items")
    for index, item in enumerate(items):
        with drawing(log):
            cls.draw_item(owner, context, LayoutRecorder(log, context, f"{cls.__name__}[{index}]"), data, item,
                          0, active_data, active_propname, index)


def draw_class(log: DrawLog, cls: type, context: Any, data: Any = None, **attributes: Any) -> None:
    """Run ``cls.draw`` (and ``draw_header``) of a Panel, an operator or the preferences, with ``self`` standing
    in as the class with a recording layout (and ``data``/``attributes``: see ``_Owner``)."""
    for method in ("draw_header", "draw"):
        if method in cls.__dict__:
            owner = _Owner(cls, LayoutRecorder(log, context, f"{cls.__name__}.{method}"), data, **attributes)
            with drawing(log):
                getattr(cls, method)(owner, context)


def addon_classes(kind: type) -> list[type]:
    """The add-on's registered classes of ``kind`` (Panel, UIList, ...), those its modules register in
    ``register_extra()`` too."""
    from move_mocap import registration

    found = []
    for module in registration._modules():
        for cls in getattr(module, "CLASSES", ()):
            if issubclass(cls, kind):
                found.append(cls)
        for name in dir(module):  # panels registered in register_extra()
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, kind) and cls.__module__ == module.__name__ \
                    and cls not in found:
                found.append(cls)
    return found


def draw_panels(context: Any = None) -> DrawLog:
    """Every panel of the add-on whose poll passes, drawn as Blender would on a redraw (poll included)."""
    context = context or bpy.context
    log = DrawLog()
    for panel in addon_classes(bpy.types.Panel):
        if poll_panel(log, panel, context):
            draw_class(log, panel, context)
    return log
