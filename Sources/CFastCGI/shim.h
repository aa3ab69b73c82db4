#ifndef ENCORE_CFASTCGI_SHIM_H
#define ENCORE_CFASTCGI_SHIM_H
#include <fcgiapp.h>
#endif
