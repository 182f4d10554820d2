-- The campaign report's figures, written by hand against the same tables: headline
-- figures of both views and the providers (messages), agents, links and hours
-- (event_outcomes), and the Apple MPP estimate's inputs. bench/report.sh times this
-- with the sqlite3 command against `trueopen report` on the same file.
SELECT provider, count(*), sum(hum_opened), sum(all_opened), sum(hum_clicked), sum(all_clicked),
       sum(hum_opens), sum(all_opens), sum(hum_clicks), sum(all_clicks)
  FROM messages WHERE campaign = 1 GROUP BY provider;
SELECT agent, count(*), sum(route = 'o'), sum(route = 'c'), sum(route = 'h'),
       sum(final_verdict <> 0), count(DISTINCT message)
  FROM event_outcomes WHERE campaign = 1 GROUP BY agent;
SELECT link, sum(final_verdict = 0), count(*),
       count(DISTINCT CASE WHEN final_verdict = 0 THEN message END), count(DISTINCT message)
  FROM event_outcomes WHERE campaign = 1 AND route = 'c' AND link BETWEEN 1 AND 65534
  GROUP BY link;
SELECT ts_us / 3600000000, sum(route = 'o' AND final_verdict = 0), sum(route = 'o'),
       sum(route = 'c' AND final_verdict = 0), sum(route = 'c')
  FROM event_outcomes WHERE campaign = 1 GROUP BY 1;
SELECT count(*), sum(hum_opened) FROM messages
 WHERE campaign = 1 AND id IN (SELECT message FROM event_outcomes
                                WHERE campaign = 1 AND agent = 'apple_mpp' AND route = 'o');
