#ifndef ENCORE_CLINUX_SHIM_H
#define ENCORE_CLINUX_SHIM_H
/* Linux system calls that Glibc's Swift module leaves out. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
