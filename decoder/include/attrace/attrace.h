/*
 * attrace/attrace.h - the decoder core in one include.
 */
#ifndef ATTRACE_ATTRACE_H
#define ATTRACE_ATTRACE_H

#include "attrace/frame.h"
#include "attrace/lines.h"
#include "attrace/profile.h"
#include "attrace/secret.h"
#include "attrace/session.h"
#include "attrace/stream.h"
#include "attrace/uart.h"
#include "attrace/types.h"

#define ATTRACE_VERSION_MAJOR 0
#define ATTRACE_VERSION_MINOR 1
#define ATTRACE_VERSION_PATCH 0
#define ATTRACE_VERSION_STRING "0.1.0"

#endif
