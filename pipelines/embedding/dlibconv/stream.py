"""Primitive readers for dlib's binary serialization (dlib/serialize.h, dlib/dnn/tensor.h).

Only the encodings that dlib's DNN objects use are implemented:

- integers: one control byte (low nibble = number of payload bytes, bit 0x80 = negative)
  followed by the magnitude, little endian;
- strings: an integer length followed by the raw bytes;
- bools: the ASCII characters ``'1'`` / ``'0'``;
- floating point: ``float_details`` = integer mantissa then integer exponent
  (value = mantissa * 2**exponent);
- ``resizable_tensor``: version 2 stores raw little-endian float32, version 1 stores each
  element as a dlib float;
- ``alias_tensor``: version 1 and four dimensions, no data.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# float_details marks inf/nan with exponents far outside any real double's range.
_LARGEST_REAL_EXPONENT = 2000
_FLOAT_CONTROL_BITS = 0x70


class DlibFormatError(ValueError):
    """The bytes do not follow dlib's serialization of the declared network."""


class DlibStream:
    """A cursor over the bytes of one dlib ``.dat`` file."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    @property
    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def _take(self, count: int) -> bytes:
        end = self._pos + count
        if count < 0 or end > len(self._data):
            raise DlibFormatError(f"unexpected end of data at byte {self._pos} (wanted {count} bytes)")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def read_int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size > 8 or control & _FLOAT_CONTROL_BITS:
            raise DlibFormatError(f"invalid integer control byte {control:#x} at byte {self._pos - 1}")
        magnitude = int.from_bytes(self._take(size), "little")
        return -magnitude if control & 0x80 else magnitude

    def read_string(self) -> str:
        length = self.read_int()
        return self._take(length).decode("latin-1")

    def read_bool(self) -> bool:
        char = self._take(1)
        if char not in (b"0", b"1"):
            raise DlibFormatError(f"invalid bool {char!r} at byte {self._pos - 1}")
        return char == b"1"

    def read_float(self) -> float:
        if self._data[self._pos] & _FLOAT_CONTROL_BITS:
            # dlib before 2013 wrote floats as ASCII; no DNN model uses that.
            raise DlibFormatError(f"legacy ASCII float at byte {self._pos}")
        mantissa = self.read_int()
        exponent = self.read_int()
        if abs(exponent) > _LARGEST_REAL_EXPONENT:
            raise DlibFormatError(f"non-finite float (exponent marker {exponent}) at byte {self._pos}")
        return math.ldexp(mantissa, exponent)

    def expect_string(self, *accepted: str) -> str:
        found = self.read_string()
        if found not in accepted:
            raise DlibFormatError(f"expected one of {accepted}, found {found!r} before byte {self._pos}")
        return found

    def expect_version(self, what: str, accepted: tuple[int, ...]) -> int:
        version = self.read_int()
        if version not in accepted:
            raise DlibFormatError(f"{what}: version {version} not in {accepted} (byte {self._pos})")
        return version

    def read_tensor(self) -> FloatArray:
        """A ``resizable_tensor``: returns an array of shape (num_samples, k, nr, nc)."""
        version = self.expect_version("tensor", (1, 2))
        shape = tuple(self.read_int() for _ in range(4))
        count = math.prod(shape)
        if version == 2:
            values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        else:
            values = np.array([self.read_float() for _ in range(count)], dtype=np.float32)
        return values.reshape(shape)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: only a shape; the data lives in the layer's params tensor."""
        self.expect_version("alias_tensor", (1,))
        num_samples, k, nr, nc = (self.read_int() for _ in range(4))
        return num_samples, k, nr, nc
