"""CRC-16/CCITT-FALSE, the frame check of the umbilical protocol (UMB-1).

Parameters: width 16, polynomial 0x1021, initial value 0xFFFF, no input or
output reflection, final XOR 0x0000; the check value of b"123456789" is 0x29B1.
`binascii.crc_hqx` computes exactly this CRC when seeded with 0xFFFF, in C.
"""

from __future__ import annotations

import binascii

__all__ = ["crc16_ccitt_false"]

_INITIAL = 0xFFFF


def crc16_ccitt_false(data: bytes | bytearray | memoryview) -> int:
    """Return the CRC-16/CCITT-FALSE of `data` as an int in 0..0xFFFF."""
    return binascii.crc_hqx(data, _INITIAL)
