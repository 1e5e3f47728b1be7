"""Writes SECONDS of a synthesized stereo chord as a 16-bit 44.1 kHz WAV file to stdout."""
import math
import struct
import sys

RATE = 44100


def sample(t):
    swell = min(1.0, t * 8) * (0.6 + 0.4 * math.sin(2 * math.pi * 0.5 * t))
    left = (0.3 * math.sin(2 * math.pi * 220 * t) + 0.2 * math.sin(2 * math.pi * 277.18 * t)
            + 0.1 * math.sin(2 * math.pi * 329.63 * t * (1 + 0.01 * math.sin(t))))
    right = 0.3 * math.sin(2 * math.pi * 110 * t) + 0.15 * math.sin(
        2 * math.pi * 440 * t + math.sin(2 * math.pi * 3 * t))
    return int(swell * left * 29490), int(swell * right * 29490)


frames = int(float(sys.argv[1]) * RATE)
data = b"".join(struct.pack("<hh", *sample(i / RATE)) for i in range(frames))
header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 2,
                     RATE, RATE * 4, 4, 16, b"data", len(data))
sys.stdout.buffer.write(header + data)
