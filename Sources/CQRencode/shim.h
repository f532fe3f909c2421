// libqrencode (Debian: libqrencode-dev): the QR symbols of the electronic card.
#ifndef CQRENCODE_SHIM_H
#define CQRENCODE_SHIM_H

#include <qrencode.h>

#endif
