/* export.h — symbol visibility and declaration helpers for the public API.
 *
 * Every public function is declared SBT_API. The library is built with
 * -fvisibility=hidden, so anything without SBT_API stays internal. */
#ifndef SELFBT_EXPORT_H
#define SELFBT_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(SBT_BUILDING_LIBRARY) && !defined(SBT_STATIC)
#    define SBT_API __declspec(dllexport)
#  elif !defined(SBT_STATIC)
#    define SBT_API __declspec(dllimport)
#  else
#    define SBT_API
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define SBT_API __attribute__((visibility("default")))
#else
#  define SBT_API
#endif

/* SBT_DEPRECATED("use sbt_x instead") marks names kept for at least one minor release. */
#if defined(__GNUC__) || defined(__clang__)
#  define SBT_DEPRECATED(msg) __attribute__((deprecated(msg)))
#elif defined(_MSC_VER)
#  define SBT_DEPRECATED(msg) __declspec(deprecated(msg))
#else
#  define SBT_DEPRECATED(msg)
#endif

#ifdef __cplusplus
#  define SBT_BEGIN_DECLS extern "C" {
#  define SBT_END_DECLS }
#else
#  define SBT_BEGIN_DECLS
#  define SBT_END_DECLS
#endif

#endif /* SELFBT_EXPORT_H */
