// zlib (Debian: zlib1g-dev): the DEFLATE of the card code and the status list.
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H

#include <zlib.h>

#endif
