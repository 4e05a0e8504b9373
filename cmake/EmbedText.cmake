# SPDX-License-Identifier: Apache-2.0
# Embeds one text file into a C++ source as a function returning std::string_view, so a binary
# carries its defaults (e.g. the diagnosis rules) and cannot be paired with the wrong file.
#
#   cmake -DINPUT_FILE=<file> -DOUTPUT_FILE=<file.cpp> -DFUNCTION=<qualified name>
#         -DHEADER=<include path> -P cmake/EmbedText.cmake
cmake_minimum_required(VERSION 3.25)
foreach(_required IN ITEMS INPUT_FILE OUTPUT_FILE FUNCTION HEADER)
  if(NOT DEFINED ${_required} OR "${${_required}}" STREQUAL "")
    message(FATAL_ERROR "EmbedText: -D${_required}=... is required")
  endif()
endforeach()
file(READ "${INPUT_FILE}" _text)
set(_delimiter "medic_text")
string(FIND "${_text}" ")${_delimiter}\"" _found)
if(NOT _found EQUAL -1)
  message(FATAL_ERROR "EmbedText: ${INPUT_FILE} contains the raw string delimiter")
endif()
file(WRITE "${OUTPUT_FILE}.tmp"
  "// Generated from ${INPUT_FILE} by cmake/EmbedText.cmake; do not edit.\n"
  "#include \"${HEADER}\"\n\n"
  "std::string_view ${FUNCTION}() noexcept {\n"
  "  return R\"${_delimiter}(${_text})${_delimiter}\";\n"
  "}\n")
file(COPY_FILE "${OUTPUT_FILE}.tmp" "${OUTPUT_FILE}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT_FILE}.tmp")
