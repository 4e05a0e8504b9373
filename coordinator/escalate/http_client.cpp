// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/http_client.hpp"

#include <algorithm>
#include <mutex>

#include <curl/curl.h>

namespace medic::coordinator::escalate {

namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto* body = static_cast<std::string*>(user);
  const std::size_t bytes = size * count;
  if (body->size() < k_max_response_bytes) {
    body->append(data, std::min(bytes, k_max_response_bytes - body->size()));
  }
  return bytes; // the rest is read and ignored, so the connection stays reusable
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
};

void set_options(CURL* curl, const HttpRequest& request, const HttpTimeouts& timeouts) {
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); // worker threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts.connect.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "medic-coordinator");
}

} // namespace

Result<void> check_http_url(std::string_view url) {
  const auto bad = [url](std::string_view why) {
    return fail(ErrorCode::config, "url '" + std::string(url) + "': " + std::string(why));
  };
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return bad("only http:// and https:// URLs are allowed");
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad("contains a space or a control character");
    }
  }
  const std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || host.front() == ':' || host.find('@') != std::string_view::npos) {
    return bad("needs a host (and no user:password@ in it)");
  }
  return {};
}

HttpClient::HttpClient() {
  global_init_once();
  m_curl = curl_easy_init();
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(static_cast<CURL*>(m_curl));
}

Result<HttpResponse> HttpClient::post(const HttpRequest& request, const HttpTimeouts& timeouts,
                                      const std::atomic<bool>& cancel) {
  auto* curl = static_cast<CURL*>(m_curl);
  if (curl == nullptr) {
    return fail(ErrorCode::internal, "libcurl could not create a handle");
  }
  curl_easy_reset(curl); // keeps the connection cache, drops the previous request's options
  set_options(curl, request, timeouts);
  HeaderList headers;
  // No "Expect: 100-continue": receivers that do not answer it would cost a second per POST.
  headers.list = curl_slist_append(headers.list, "Expect:");
  for (const auto& header : request.headers) {
    headers.list = curl_slist_append(headers.list, header.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  HttpResponse response;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&cancel));
  char detail[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (code != CURLE_OK) {
    std::string why = code == CURLE_ABORTED_BY_CALLBACK ? std::string("cancelled (stopping)")
                      : detail[0] != 0                  ? std::string(detail)
                                                        : std::string(curl_easy_strerror(code));
    return fail(ErrorCode::io, "POST " + request.url + ": " + why);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

} // namespace medic::coordinator::escalate
