#ifndef ENCORE_CSODIUM_SHIM_H
#define ENCORE_CSODIUM_SHIM_H
#include <sodium.h>
#endif
