#ifndef CRX_CCRYPTO_SHIM_H
#define CRX_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif
