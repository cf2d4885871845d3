#include "ekd_codecs.h"

#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

static void set_error(char *error, size_t size, const char *message) {
  if (error && size > 0) {
    strncpy(error, message, size - 1);
    error[size - 1] = 0;
  }
}

void ekd_free(void *p) { free(p); }

// ---- PNG (libpng's simplified API: no longjmp reaches the caller) ----

static int decode_png(const uint8_t *data, size_t size, int channels, size_t max_pixels, uint8_t **pixels,
                      int *width, int *height, char *error, size_t error_size) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    set_error(error, error_size, image.message[0] ? image.message : "not a readable PNG");
    return 1;
  }
  if ((size_t)image.width * image.height > max_pixels || image.width == 0 || image.height == 0) {
    png_image_free(&image);
    set_error(error, error_size, "PNG dimensions are zero or too large");
    return 1;
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  size_t bytes = PNG_IMAGE_SIZE(image);
  uint8_t *buffer = malloc(bytes);
  if (!buffer) {
    png_image_free(&image);
    set_error(error, error_size, "out of memory");
    return 1;
  }
  if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
    set_error(error, error_size, image.message[0] ? image.message : "corrupt PNG data");
    free(buffer);
    png_image_free(&image);
    return 1;
  }
  *pixels = buffer;
  *width = (int)image.width;
  *height = (int)image.height;
  return 0;
}

int ekd_write_png(const char *path, const uint8_t *pixels, int width, int height, int channels, char *error,
                  size_t error_size) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)width;
  image.height = (png_uint_32)height;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  // Overlays, contact sheets and synthetic sets: fast deflate settings, since
  // a few percent of file size matter less than `ekd predict`'s latency.
  image.flags = PNG_IMAGE_FLAG_FAST;
  if (!png_image_write_to_file(&image, path, 0, pixels, 0, NULL)) {
    set_error(error, error_size, image.message[0] ? image.message : "cannot write PNG");
    return 1;
  }
  return 0;
}

// ---- JPEG (libjpeg-turbo; errors longjmp back into this file only) ----

struct ekd_jpeg_error {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

static void jpeg_error_exit(j_common_ptr cinfo) {
  struct ekd_jpeg_error *e = (struct ekd_jpeg_error *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

static void jpeg_silence(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

static int decode_jpeg(const uint8_t *data, size_t size, int channels, size_t max_pixels, uint8_t **pixels,
                       int *width, int *height, char *error, size_t error_size) {
  struct jpeg_decompress_struct cinfo;
  struct ekd_jpeg_error jerr;
  uint8_t *volatile buffer = NULL;
  cinfo.err = jpeg_std_error(&jerr.base);
  jerr.base.error_exit = jpeg_error_exit;
  jerr.base.emit_message = jpeg_silence;
  if (setjmp(jerr.jump)) {
    set_error(error, error_size, jerr.message);
    jpeg_destroy_decompress(&cinfo);
    free(buffer);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_read_header(&cinfo, TRUE);
  if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    set_error(error, error_size, "JPEG dimensions are too large");
    return 1;
  }
  cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
  buffer = malloc(stride * cinfo.output_height);
  if (!buffer) {
    jpeg_destroy_decompress(&cinfo);
    set_error(error, error_size, "out of memory");
    return 1;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = buffer + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  *width = (int)cinfo.output_width;
  *height = (int)cinfo.output_height;
  jpeg_destroy_decompress(&cinfo);
  *pixels = buffer;
  return 0;
}

int ekd_write_jpeg(const char *path, const uint8_t *pixels, int width, int height, int quality, char *error,
                   size_t error_size) {
  struct jpeg_compress_struct cinfo;
  struct ekd_jpeg_error jerr;
  FILE *volatile file = fopen(path, "wb");
  if (!file) {
    set_error(error, error_size, "cannot open the file for writing");
    return 1;
  }
  cinfo.err = jpeg_std_error(&jerr.base);
  jerr.base.error_exit = jpeg_error_exit;
  if (setjmp(jerr.jump)) {
    set_error(error, error_size, jerr.message);
    jpeg_destroy_compress(&cinfo);
    fclose(file);
    return 1;
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, file);
  cinfo.image_width = (JDIMENSION)width;
  cinfo.image_height = (JDIMENSION)height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * 3);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return fclose(file) == 0 ? 0 : (set_error(error, error_size, "cannot finish writing the file"), 1);
}

int ekd_decode_image(const uint8_t *data, size_t size, int channels, size_t max_pixels, uint8_t **pixels,
                     int *width, int *height, char *error, size_t error_size) {
  static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (channels != 1 && channels != 3) {
    set_error(error, error_size, "channels must be 1 or 3");
    return 1;
  }
  if (size >= 8 && memcmp(data, png_signature, 8) == 0)
    return decode_png(data, size, channels, max_pixels, pixels, width, height, error, error_size);
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return decode_jpeg(data, size, channels, max_pixels, pixels, width, height, error, error_size);
  set_error(error, error_size, "neither a PNG nor a JPEG (unknown signature)");
  return 1;
}

// ---- zlib ----

int ekd_inflate_into(const uint8_t *data, size_t size, uint8_t *out, size_t capacity, size_t *out_size, char *error,
                     size_t error_size) {
  // zlib counts in uInt (32 bits): feed the input and offer the output in chunks no larger.
  const size_t chunk = UINT_MAX;
  z_stream s;
  memset(&s, 0, sizeof s);
  *out_size = 0;
  if (inflateInit(&s) != Z_OK) {
    set_error(error, error_size, "zlib initialisation failed");
    return 1;
  }
  size_t consumed = 0, produced = 0;
  uint8_t spare;  // once `out` is full: one byte to learn whether the stream has more
  int full = 0;
  for (;;) {
    if (s.avail_in == 0 && consumed < size) {
      size_t n = size - consumed < chunk ? size - consumed : chunk;
      s.next_in = (Bytef *)(data + consumed);
      s.avail_in = (uInt)n;
      consumed += n;
    }
    if (s.avail_out == 0) {
      if (produced == capacity) {
        full = 1;
        s.next_out = &spare;
        s.avail_out = 1;
      } else {
        size_t n = capacity - produced < chunk ? capacity - produced : chunk;
        s.next_out = out + produced;
        s.avail_out = (uInt)n;
      }
    }
    uInt in_before = s.avail_in, out_before = s.avail_out;
    int status = inflate(&s, Z_NO_FLUSH);
    size_t wrote = out_before - s.avail_out;
    if (full && wrote > 0) {
      inflateEnd(&s);
      *out_size = produced;
      return 2;
    }
    produced += wrote;
    if (status == Z_STREAM_END) break;
    if (status == Z_OK) continue;
    if (status == Z_BUF_ERROR && s.avail_in == 0 && consumed == size) {
      set_error(error, error_size, "truncated zlib stream");
    } else if (status == Z_BUF_ERROR && (s.avail_in != in_before || s.avail_out != out_before || s.avail_out == 0)) {
      continue;  // progress was made, or only output room is missing: go on
    } else if (status == Z_MEM_ERROR) {
      set_error(error, error_size, "out of memory");
    } else {
      set_error(error, error_size, s.msg ? s.msg : "corrupt zlib stream");
    }
    inflateEnd(&s);
    *out_size = produced;
    return 1;
  }
  inflateEnd(&s);
  *out_size = produced;
  return 0;
}
