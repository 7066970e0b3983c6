#include <ffi.h>

/* libffi's type descriptors are mutable globals in C; Swift 6 refuses to touch those directly.
 * These accessors hand out their addresses (libffi never changes them after initialization). */
static inline ffi_type *sb_ffi_type_pointer(void) { return &ffi_type_pointer; }
static inline ffi_type *sb_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *sb_ffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *sb_ffi_type_double(void) { return &ffi_type_double; }
