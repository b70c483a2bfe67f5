"""English comment fragments of FreshGo's customers, by topic (driver) and polarity.

Same slots and rule as phrases_zh: each fragment names its topic. Fragments are sentences
without final punctuation; the composer joins, punctuates and sometimes roughs them up.
"""

from __future__ import annotations

ITEMS = (
    "strawberries", "cherries", "salmon", "milk", "eggs", "spinach", "yogurt", "steak",
    "tomatoes", "bananas", "shrimp", "blueberries", "avocados", "bread", "mangoes",
    "pork belly", "tofu", "lettuce", "kiwis", "broccoli", "grapes", "chicken breast",
)
SLOTS = ("before-9am", "10am-12pm", "lunchtime", "6-8pm", "evening")

FRUITS = ("strawberries", "cherries", "blueberries", "mangoes", "kiwis", "grapes", "peaches",
          "oranges", "apples", "avocados")
GREENS = ("spinach", "lettuce", "bok choy", "kale", "greens")
CHILLED = ("salmon", "milk", "yogurt", "ice cream", "shrimp", "steak", "chicken breast")

TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "delivery": {
        "neg": (
            "Delivery took {days} days, way too slow for groceries",
            "Order arrived {hours} hours late and the {chilled} was warm",
            "The courier left the bag at the wrong door",
            "The delivery window is meaningless, they never show up on time",
            "Ice packs were completely melted when it arrived",
            "Rider was rude and told me to hurry downstairs",
            "Tracking said out for delivery all day, nothing came until 10pm",
            "Eggs were smashed, {n} broken, the packaging is flimsy",
            "Deliveries used to be same day, now next day at best",
            "Booked the {slot} delivery slot and it came hours later",
            "No call, no message, the driver just dumped the package at the gate",
            "delivery is sooo slow lately",
            "My order was delivered to the neighbour's building",
            "Frozen stuff arrived soft because delivery was so late",
        ),
        "pos": (
            "Super fast delivery, arrived in {minutes} minutes",
            "Courier was polite and carried everything upstairs",
            "Deliveries always arrive within the time slot",
            "Cold chain packaging is great, the {chilled} was still ice cold",
            "Ordered in the morning, delivered before lunch",
            "They delivered on time even in the pouring rain",
            "Faster delivery than any other app I've tried",
            "Packaging is neat, not a single egg broken",
            "30 min delivery is real, love it",
            "The rider always calls before arriving",
        ),
    },
    "quality": {
        "neg": (
            "The {fruit} weren't fresh, {n} of them were already rotten",
            "Milk was two days from expiry, seriously?",
            "The fruit quality looks nothing like the pictures",
            "Half the box of {fruit} was mushy",
            "Veggies were wilted and yellow, not fresh at all",
            "Salmon smelled off, didn't dare eat it",
            "Quality has gone downhill, it used to be much better",
            "The bread had mold on it",
            "The {chilled} was underweight, clearly less than I paid for",
            "Meat didn't look fresh after thawing",
            "The {fruit} were bruised and half of them went bad in a day",
        ),
        "pos": (
            "The {fruit} were super fresh, way better than the supermarket downstairs",
            "Produce is always fresh and crisp",
            "Great quality meat, my parents loved it",
            "Quality is consistent, never had a bad batch of {item}",
            "Salmon was fresh enough for sashimi",
            "Milk is always fresh with a recent date",
            "Fresh organic veggies, worth it",
            "Strawberries were big, sweet and fresh",
            "Freshness is the reason I stick with FreshGo",
        ),
    },
    "price": {
        "neg": (
            "A bit pricey compared to other apps",
            "Good stuff but too expensive",
            "Coupons keep getting smaller and the thresholds higher",
            "Membership fee went up, not worth the money anymore",
            "Same {item} is ¥{diff} cheaper elsewhere",
            "Delivery fee is too high unless you spend ¥{threshold}",
            "Prices change all the time, it dropped right after I bought",
            "The member price is barely a discount",
            "Paying this much for a box of {fruit} is crazy",
        ),
        "pos": (
            "Great prices and lots of deals",
            "The membership saves me money every month",
            "Got a ¥{coupon} coupon, great value",
            "Cheaper than the supermarket and delivered to the door",
            "Good value for money",
            "The {item} deal was amazing",
            "Transparent pricing, no tricks",
            "Member day prices are really cheap",
        ),
    },
    "service": {
        "neg": (
            "Customer service took {minutes} minutes to reply",
            "Impossible to reach a human, only the chatbot",
            "Support just copy-pastes the same answer",
            "Complained {n} times to customer service, nobody followed up",
            "Support promised a call back and never called",
            "The support bot doesn't understand anything",
            "Service agents keep passing the buck to the courier",
            "The customer service hotline is always busy",
        ),
        "pos": (
            "Customer service was really helpful",
            "Support replied within minutes and fixed it",
            "The agent was patient and followed up the next day",
            "Customer service called to apologize and gave me a coupon",
            "Friendly and professional support staff",
            "Live chat support answered instantly",
        ),
    },
    "app": {
        "neg": (
            "App keeps crashing at checkout",
            "Since the last update the app is super laggy",
            "Search in the app is useless, looking for {item} shows random stuff",
            "The app freezes on the payment screen",
            "New app UI is confusing, can't find my usual list",
            "The app keeps logging me out, have to re-enter the code every time",
            "Way too many push notifications from the app",
            "Cart items disappear randomly, buggy app",
        ),
        "pos": (
            "App is easy to use and clean",
            "Love the buy-again list in the app",
            "The app is fast and smooth",
            "Search in the app works well, I find everything quickly",
            "Recipe ideas in the app are actually useful",
            "Live order tracking in the app is great",
        ),
    },
    "checkout": {
        "neg": (
            "Payment kept spinning, I was charged but no order was created",
            "Coupon wouldn't apply at checkout",
            "Couldn't choose a delivery slot at checkout",
            "WeChat Pay failed {n} times, had to switch to Alipay",
            "Can't change the address after placing the order",
            "Got charged twice for one order",
            "Checkout crashed {n} times before the payment went through",
            "System busy every time I submit the order",
        ),
        "pos": (
            "Checkout is quick and simple",
            "Paying with WeChat Pay is one tap",
            "Best coupon applied automatically at checkout, nice",
            "Placing an order takes less than a minute",
            "Love that I can pick the delivery slot when ordering",
        ),
    },
    "returns": {
        "neg": (
            "Still waiting for my refund after {days} days",
            "Return process needs way too many photos",
            "My refund request for rotten {fruit} was rejected",
            "Only got half refunded, no explanation",
            "Have to ship returns back myself and pay for it",
            "The promised compensation coupon never showed up",
        ),
        "pos": (
            "Refund was instant",
            "Sent a photo of the bad {fruit} and got refunded right away",
            "Easy returns, they picked it up from my door",
            "After-sales sent a replacement the next day",
            "Hassle-free refunds, very reassuring",
        ),
    },
    "other": {
        "neg": (
            "Not enough imported products", "The selection is too small",
            "Membership perks keep shrinking", "Wish there were more pickup points",
        ),
        "pos": (
            "Huge selection, I get everything in one place", "Member day events are fun",
            "Points are actually worth something",
        ),
    },
}

CONTEXT: dict[str, tuple[str, ...]] = {
    "delivery_crisis": ("Ever since you switched couriers, ", "Since the warehouse move, ",
                        "Delivery has been a mess for weeks. "),
    "double11": ("During Double 11 ", "I get it, it's Double 11, but "),
    "spring_rush": ("Right before Chinese New Year ", "With the CNY rush, "),
    "spring_holiday": ("Over the Spring Festival ", "During the holiday "),
    "mid_year_618": ("During the 618 sale ",),
    "app_outage": ("Since the latest update, ", "With the new app version, "),
    "heat": ("With this heat, ", "Summer again and "),
    "peak_praise": ("Even during the sale rush, ", "Busy season and still, "),
}
OPENERS: dict[str, tuple[str, ...]] = {
    "promoter": ("Overall very happy", "Been using FreshGo for two years", "Love it",
                 "Better than the other apps", "First order and I'm impressed"),
    "passive": ("It's ok", "Decent overall", "Not bad", "Mostly fine"),
    "detractor": ("Really disappointed", "Terrible experience this time",
                  "Long-time customer here and this is frustrating", "Not the first time",
                  "Honestly not happy"),
}
CLOSERS: dict[str, tuple[str, ...]] = {
    "promoter": ("Will keep ordering", "Already recommended it to friends", "👍",
                 "Keep it up!", "5 stars", "Highly recommend"),
    "passive": ("Hope it gets better", "Room for improvement", "Could be better"),
    "detractor": ("Please fix this", "Thinking about switching", "Won't order again",
                  "Uninstalling", "Very disappointing", "Do better"),
}
SHORT: dict[str, tuple[str, ...]] = {
    "promoter": ("Great", "Love it", "Excellent", "Very good", "All good", "Perfect 👍"),
    "passive": ("OK", "fine", "Average", "meh", "It's alright"),
}
BUT = ("but", "but", "although", "however")
TYPOS = {
    "definitely": "definately", "really": "realy", "received": "recieved",
    "delivery": "delivary", "because": "becuase", "doesn't": "doesnt", "can't": "cant",
    "didn't": "didnt", "won't": "wont", "I've": "ive", "too": "to",
}
