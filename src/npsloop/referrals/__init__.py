"""The promoter referral loop: personal codes and links for promoters, visits and
conversions with their guards, campaigns that ask recent promoters, referral analytics and
lifecycle-stage views."""
