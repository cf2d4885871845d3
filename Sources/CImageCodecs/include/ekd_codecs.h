// Image decoding and encoding through libpng and libjpeg-turbo, and zlib
// inflation, with errors returned as values.
//
// Why a C shim: libjpeg reports errors by longjmp (or exit), and Swift frames
// cannot be jumped over. These functions keep every setjmp/longjmp inside C
// and hand Swift a status code and a message instead.
#ifndef EKD_CODECS_H
#define EKD_CODECS_H

#include <stddef.h>
#include <stdint.h>

/// Decodes a PNG or JPEG (detected from its signature) to 8-bit pixels with
/// `channels` = 1 (gray) or 3 (RGB). On success returns 0 and sets *pixels
/// (free with ekd_free), *width, *height. On failure returns nonzero and writes
/// a message to `error` (at most `error_size` bytes, NUL-terminated).
/// Images larger than `max_pixels` are refused before any allocation.
int ekd_decode_image(const uint8_t *data, size_t size, int channels, size_t max_pixels,
                     uint8_t **pixels, int *width, int *height, char *error, size_t error_size);

/// Writes 8-bit RGB (channels 3) or gray (1) pixels as a PNG file.
int ekd_write_png(const char *path, const uint8_t *pixels, int width, int height, int channels,
                  char *error, size_t error_size);

/// Writes 8-bit RGB pixels as a JPEG file at `quality` (1–100).
int ekd_write_jpeg(const char *path, const uint8_t *pixels, int width, int height, int quality,
                   char *error, size_t error_size);

/// Inflates a zlib stream into the caller's buffer `out` of `capacity` bytes,
/// so that a caller who knows the inflated size allocates it once and copies
/// nothing. Sets *out_size to the bytes written. Returns 0 when the stream
/// ended within `capacity`, 2 when it holds more than `capacity` bytes (the
/// first `capacity` are in `out`), and 1 on a corrupt or truncated stream or
/// when out of memory (with a message in `error`).
int ekd_inflate_into(const uint8_t *data, size_t size, uint8_t *out, size_t capacity, size_t *out_size,
                     char *error, size_t error_size);

void ekd_free(void *p);

#endif
