/*-------------------------------------------------------------------------
 * attributes.h
 *    Reading a client attributes object.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_ATTRIBUTES_H
#define MZ_API_ATTRIBUTES_H

#include <jansson.h>
#include <stddef.h>

#include "model/status.h"

/* Validates a client attributes object (borrowed): tier and region
 * (strings or null, copied into *tier / *region, caller frees) and
 * consent ({"personalization": bool} into *consent as 1/0, -1 when
 * absent). Returns MZ_ERR_INVALID with err naming the field. */
enum mz_status mz_parse_attributes(const json_t *obj, char **tier,
                                   char **region, int *consent, char *err,
                                   size_t err_len);

#endif
