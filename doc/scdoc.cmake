# Builds one man page: cmake -DSCDOC=... -DGZIP=... -DSRC=... -DOUT=... -DPARTS=DIR -P scdoc.cmake
# OUT is the page (for man -l in the build tree), OUT.gz what is installed:
# Debian installs man pages compressed with gzip -9n (no name, no time
# stamp: the same page makes the same bytes).
# @PORT_OPTIONS@ in the source is replaced by PARTS/port-options.scd.in
# (the live commands share their port options).
file(READ "${SRC}" _text)
file(READ "${PARTS}/port-options.scd.in" _port_options)
string(REPLACE "@PORT_OPTIONS@\n" "${_port_options}" _text "${_text}")
file(WRITE "${OUT}.scd" "${_text}")
execute_process(COMMAND "${SCDOC}" INPUT_FILE "${OUT}.scd" OUTPUT_FILE "${OUT}"
                RESULT_VARIABLE _rc)
file(REMOVE "${OUT}.scd")
if(NOT _rc EQUAL 0)
  file(REMOVE "${OUT}")
  message(FATAL_ERROR "scdoc failed on ${SRC}")
endif()
execute_process(COMMAND "${GZIP}" -9n -c INPUT_FILE "${OUT}" OUTPUT_FILE "${OUT}.gz"
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(REMOVE "${OUT}.gz")
  message(FATAL_ERROR "gzip failed on ${OUT}")
endif()
