#ifndef ENCORE_CLIBPQ_SHIM_H
#define ENCORE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
