"""Check the shape of a pickle from its opcodes alone, before anything is built.

A state dict pickle is shallow: an OrderedDict of names -> ``_rebuild_tensor_v2(...)``
calls, whose arguments are flat tuples of ints. Measured with this model of the stack on
files torch 2.13 wrote: 4 levels for the state dict of the official unet_256 generator
(83 tensors; the 4th level is the OrderedDict's ``_metadata``), 6 for a training
checkpoint {epoch, state_dict, Adam's optimizer.state_dict()}, 7 for a Lightning-style
one (a list of optimiser states, hyper-parameters). A crafted pickle can instead make a dict key out of a tuple nested
hundreds of thousands deep: the unpickler builds it without complaint (it is iterative),
and then CPython crashes with SIGSEGV hashing it (tuple hashing recurses in C).

So ``check_pickle_shape`` walks the opcodes (``pickletools.genops``, which builds
nothing), keeps a model of the unpickler's stack where each entry is only
(nesting depth, kind), and refuses: nesting deeper than MAX_NESTING, dict keys that are
not strings (a state dict's keys are; and only a scalar key can be hashed cheaply: a
shallow tuple can still share its items through the memo, (t, t) with t = (u, u)...,
and cost 2**depth to hash), sets (their items are hashed), and object-building opcodes
a state dict never uses (INST, OBJ, NEWOBJ, EXT...). Nothing walks the built object
afterwards, so a value shared the same way costs nothing.
"""
import pickletools

MAX_NESTING = 32  # > 4x the deepest real file above; hashing crashed at 150,000 levels

# opcode -> the type of the scalar it pushes
_SCALARS = {
    **dict.fromkeys(["STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
                     "SHORT_BINUNICODE", "BINUNICODE8"], "str"),
    **dict.fromkeys(["INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"], "int"),
    **dict.fromkeys(["NEWTRUE", "NEWFALSE"], "bool"), "NONE": "NoneType",
    **dict.fromkeys(["FLOAT", "BINFLOAT"], "float"),
    **dict.fromkeys(["BINBYTES", "SHORT_BINBYTES", "BINBYTES8"], "bytes"),
    "GLOBAL": "global", "PERSID": "storage",
}
_EMPTY = {"EMPTY_DICT": "dict", "EMPTY_LIST": "list", "EMPTY_TUPLE": "tuple"}
_NOTHING = {"PROTO", "FRAME", "STOP"}


class PickleShapeError(ValueError):
    """The pickle holds something a state dict never does."""


class _Stack:
    """The unpickler's stack, holding (depth, kind) instead of objects; kind names the
    object's type as far as the opcode tells it ("str", "int", "tuple", "object"...)."""

    def __init__(self):
        self.items, self.marks, self.memo = [], [], {}

    def push(self, depth, kind):
        if depth > MAX_NESTING:
            raise PickleShapeError(f"nests containers more than {MAX_NESTING} deep")
        self.items.append((depth, kind))

    def pop(self, n=1):
        if n > len(self.items):
            raise PickleShapeError("is corrupt (pops an empty stack)")
        popped = self.items[len(self.items) - n:]
        del self.items[len(self.items) - n:]
        return popped

    def pop_mark(self):
        if not self.marks:
            raise PickleShapeError("is corrupt (no MARK)")
        return self.pop(len(self.items) - self.marks.pop())

    def top(self):
        if not self.items:
            raise PickleShapeError("is corrupt (memoizes an empty stack)")
        return self.items[-1]

    def container(self, items, kind, keyed=False):
        """Push a new container of ``items`` (keyed: alternating keys and values)."""
        _check_keys(items, keyed)
        self.push(1 + max((depth for depth, _ in items), default=0), kind)

    def add_to_top(self, items, keyed=False):
        """APPEND(S), SETITEM(S), BUILD: ``items`` go into the object below them."""
        _check_keys(items, keyed)
        (depth, kind), = self.pop()
        self.push(max([depth] + [1 + d for d, _ in items]), kind)


def _check_keys(items, keyed):
    bad = [kind for _, kind in items[::2] if kind != "str"] if keyed else []
    if bad:
        raise PickleShapeError(f"has a non-string key of type {bad[0]}; state dict keys are "
                               "strings")


def _step(stack, name, arg):
    """Apply one opcode to the model stack."""
    if name in _SCALARS:
        stack.push(0, _SCALARS[name])
    elif name in _EMPTY:
        stack.push(1, _EMPTY[name])
    elif name == "MARK":
        stack.marks.append(len(stack.items))
    elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
        stack.memo[len(stack.memo) if name == "MEMOIZE" else arg] = stack.top()
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        if arg not in stack.memo:
            raise PickleShapeError(f"is corrupt (memo {arg} is empty)")
        stack.items.append(stack.memo[arg])
    elif name in ("POP", "DUP"):
        stack.items += stack.pop() * (2 if name == "DUP" else 0)
    elif name == "POP_MARK":
        stack.pop_mark()
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        stack.container(stack.pop(int(name[-1])), "tuple")
    elif name in ("TUPLE", "LIST", "DICT"):
        stack.container(stack.pop_mark(), name.lower(), keyed=name == "DICT")
    elif name in ("APPEND", "SETITEM", "BUILD"):
        stack.add_to_top(stack.pop(2 if name == "SETITEM" else 1), keyed=name == "SETITEM")
    elif name in ("APPENDS", "SETITEMS"):
        stack.add_to_top(stack.pop_mark(), keyed=name == "SETITEMS")
    elif name in ("REDUCE", "BINPERSID", "STACK_GLOBAL"):
        # REDUCE: callable, args -> a result as deep as its arguments; BINPERSID: pid ->
        # storage; STACK_GLOBAL: module, name -> a global.
        popped = stack.pop(1 if name == "BINPERSID" else 2)
        stack.push(0 if name == "STACK_GLOBAL" else popped[-1][0], "object")
    elif name not in _NOTHING:
        raise PickleShapeError(f"uses the {name} opcode")


def check_pickle_shape(data):
    """Raise PickleShapeError (its message completes "data.pkl ...") if the pickle bytes
    ``data`` could build anything but a shallow dict with string keys."""
    stack = _Stack()
    try:
        for op, arg, _ in pickletools.genops(data):
            _step(stack, op.name, arg)
    except ValueError as e:  # genops: an unknown opcode, or the data ends too soon
        if isinstance(e, PickleShapeError):
            raise
        raise PickleShapeError(f"is corrupt ({e})") from e
