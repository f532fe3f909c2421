// PCSC-lite (Debian: libpcsclite-dev): the PC/SC client API through which `citizencard card
// authenticate` talks to a card reader via pcscd. <winscard.h> includes <pcsclite.h> and
// <wintypes.h> from the same directory, which pkg-config's libpcsclite puts on the path.
#ifndef CPCSCLITE_SHIM_H
#define CPCSCLITE_SHIM_H

#include <winscard.h>

#endif
