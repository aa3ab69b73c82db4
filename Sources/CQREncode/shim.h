#ifndef ENCORE_CQRENCODE_SHIM_H
#define ENCORE_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif
